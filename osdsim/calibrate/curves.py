"""Learning curves α(n) per domain, fitted to a trace's per-record acceptance.

The form is the simulator's acceptance model (:func:`osdsim.acceptance.learning_curve_alpha`):

    alpha(n) = alpha_inf - (alpha_inf - alpha0) * exp(-n / scale)

where n is the number of records of that domain the draft had been trained on when it served
the record: records of the domain served up to the ``after_record`` of the latest update applied
before it (the draft's ``draft_version``). Without update lines (an untouched draft) n is 0
throughout and the curve is flat at the mean. The fitted mapping is what ``<trace>.curves.json``
holds (``osdsim.trace.curves`` reads and writes that file).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from osdsim.acceptance import learning_curve_alpha
from osdsim.trace.select import speculative_records


def trained_records(records: pd.DataFrame, updates: pd.DataFrame | None = None) -> pd.Series:
    """n per record: records of its domain that the draft serving it had been trained on."""
    if "draft_version" not in records or updates is None or updates.empty:
        return pd.Series(0, index=records.index, dtype=int)
    after = dict(zip(updates["update"].astype(int), updates["after_record"].astype(int)))
    last = records["draft_version"].fillna(0).astype(int).map(lambda v: after.get(v, -1) if v else -1)
    n = pd.Series(0, index=records.index, dtype=int)
    for _, group in records.groupby("domain", sort=False):
        served = np.sort(group["record"].to_numpy(int))
        n[group.index] = np.searchsorted(served, last[group.index].to_numpy(int), side="right")
    return n


def _fit_one(n: np.ndarray, alpha: np.ndarray) -> dict[str, float]:
    from scipy.optimize import curve_fit

    mean = float(np.mean(alpha))
    flat = {"alpha0": mean, "alpha_inf": mean, "scale": 1.0}
    if len(alpha) < 4 or np.ptp(n) == 0:
        return flat
    head = float(np.mean(alpha[n <= np.quantile(n, 0.1)]))
    tail = float(np.mean(alpha[n >= np.quantile(n, 0.9)]))
    # The asymptote is not extrapolated far past the data: scale <= half the observed span of n,
    # so the fitted curve covers >= 86% of its rise within the records seen. A short block (say
    # 16 records still climbing) would otherwise fit alpha_inf = 1 with a huge scale, and a
    # simulator replaying thousands of records would believe it.
    max_scale = max(float(np.ptp(n)) / 2, 1.0)
    guess = [min(max(head, 0.0), 1.0), min(max(tail, 0.0), 1.0), min(max(float(np.ptp(n)) / 4, 1.0), max_scale)]
    try:
        (a0, ainf, scale), _ = curve_fit(
            learning_curve_alpha, n, alpha, p0=guess,
            bounds=([0.0, 0.0, 1e-6], [1.0, 1.0, max_scale]), maxfev=20000)
    except (RuntimeError, ValueError):
        return flat
    # Keep the curve only if it explains the data better than a flat line by more than its two
    # extra parameters (Akaike's criterion): a short, noisy block otherwise fits a spurious
    # step (a tiny scale) or a spurious trend.
    def aic(sse: float, k: int) -> float:
        return len(alpha) * np.log(max(sse, 1e-12) / len(alpha)) + 2 * k

    sse_curve = float(np.sum((alpha - learning_curve_alpha(n, a0, ainf, scale)) ** 2))
    sse_flat = float(np.sum((alpha - mean) ** 2))
    if aic(sse_curve, 3) >= aic(sse_flat, 1):
        return flat
    return {"alpha0": float(a0), "alpha_inf": float(ainf), "scale": float(scale)}


def fit_learning_curves(records: pd.DataFrame, updates: pd.DataFrame | None = None) -> dict[str, Any]:
    """Least-squares fit of ``learning_curve_alpha`` per domain to per-record alpha.

    ``records`` needs ``record``, ``domain``, ``alpha`` and ``draft_version``; baseline records
    (``mode == "baseline"``) and records without alpha are left out. If ``updates`` is None and
    ``records`` has a column ``n``, that column is used as n.
    """
    df = speculative_records(records)
    df = df[df["alpha"].notna()].copy()
    if "n" not in df or updates is not None:
        df["n"] = trained_records(df, updates)
    domains = {}
    for domain, group in df.groupby("domain", sort=False):
        fit = _fit_one(group["n"].to_numpy(float), group["alpha"].to_numpy(float))
        domains[str(domain)] = {**fit, "points": int(len(group))}
    return {"form": "exp", "unit": "records", "domains": domains}
