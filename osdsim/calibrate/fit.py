"""Least-squares calibration of the roofline's free parameters to measured forward timings.

The roofline (``osdsim.cost.roofline``) prices a forward as

    t = max(FLOPs / (peak · compute_efficiency), bytes / (bandwidth · bandwidth_efficiency))
        + overhead_per_forward_s + num_layers · overhead_per_layer_s

with peaks and bandwidth from the spec sheet. The four free parameters are fitted by
``scipy.optimize.least_squares`` on the relative error (so a 1 ms draft weighs as much as a
30 ms target), bounded to their physical ranges, from several starting points (the max() makes
the problem non-convex). Timings are rows (model, batch, new_tokens, context, seconds).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from osdsim.cost import roofline
from osdsim.specs import HardwareSpec, ModelSpec

PARAMS = ("bandwidth_efficiency", "compute_efficiency", "overhead_per_forward_s", "overhead_per_layer_s")
TIMING_COLUMNS = ("model", "batch", "new_tokens", "context", "seconds")
_MS = 1e-3  # overheads are optimised in milliseconds so all four unknowns are O(0.01 … 10)
_LOWER = np.array([1e-4, 1e-4, 0.0, 0.0])
_UPPER = np.array([1.0, 1.0, 10.0 / _MS, 1.0 / _MS])


@dataclass(frozen=True)
class Fit:
    """A calibration: the fitted card, its four numbers, and the error at every timing row."""

    hardware: HardwareSpec
    params: dict[str, float]
    points: pd.DataFrame  # the timing rows plus predicted_s and rel_error
    cost: float  # ½ Σ relative error²

    def summary(self) -> dict[str, float]:
        err = self.points["rel_error"].abs()
        return {"points": int(len(err)), "median_abs_rel_error": float(err.median()),
                "p90_abs_rel_error": float(err.quantile(0.9)), "max_abs_rel_error": float(err.max())}


def check_timings(rows: pd.DataFrame, models: dict[str, ModelSpec]) -> pd.DataFrame:
    missing = [c for c in TIMING_COLUMNS if c not in rows]
    if missing:
        raise ValueError(f"timing rows lack column(s) {', '.join(missing)}")
    df = rows.loc[:, list(TIMING_COLUMNS)].copy()
    df["model"] = df["model"].astype(str)
    for col in TIMING_COLUMNS[1:]:
        df[col] = pd.to_numeric(df[col], errors="coerce")
    bad = df[list(TIMING_COLUMNS[1:])].isna().any(axis=1) | (df["seconds"] <= 0) | (df["batch"] < 1) | (df["new_tokens"] < 1)
    if bad.any():
        raise ValueError(f"{int(bad.sum())} timing row(s) have missing or non-positive numbers")
    unknown = sorted(set(df["model"]) - set(models))
    if unknown:
        raise ValueError(f"no model spec for timed model(s) {', '.join(unknown)}")
    if df.empty:
        raise ValueError("no timing rows to fit")
    return df.reset_index(drop=True)


def _terms(df: pd.DataFrame, models: dict[str, ModelSpec], hw: HardwareSpec, dtype: str):
    """Per row: compute seconds at efficiency 1, memory seconds at efficiency 1, layers."""
    compute, memory, layers = (np.zeros(len(df)) for _ in range(3))
    for name, idx in df.groupby("model").groups.items():
        m, sub = models[name], df.loc[idx]
        b, k, ctx = (sub[c].to_numpy(float) for c in ("batch", "new_tokens", "context"))
        compute[idx] = roofline.forward_flops(m, b, k, ctx) / hw.flops_for(dtype)
        memory[idx] = roofline.forward_bytes(m, b, k, ctx, dtype=dtype) / hw.bandwidth_Bps
        layers[idx] = m.num_layers
    return compute, memory, layers


def _predict(x: np.ndarray, compute, memory, layers) -> np.ndarray:
    be, ce, of_ms, ol_ms = x
    return np.maximum(compute / ce, memory / be) + (of_ms + layers * ol_ms) * _MS


def fit_roofline(rows: pd.DataFrame, models: dict[str, ModelSpec], hardware: HardwareSpec,
                 dtype: str | None = None) -> Fit:
    """Fit the four free parameters of ``hardware`` to timing ``rows`` (see module docstring)."""
    from scipy.optimize import least_squares

    dtype = dtype or hardware.default_dtype
    df = check_timings(rows, models)
    compute, memory, layers = _terms(df, models, hardware, dtype)
    seconds = df["seconds"].to_numpy(float)

    def residual(x):
        return _predict(x, compute, memory, layers) / seconds - 1.0

    floor_ms = float(seconds.min()) / _MS
    starts = [[be, ce, of, ol] for be in (0.9, 0.3, 0.05) for ce in (0.9, 0.2)
              for of, ol in ((0.5 * floor_ms, 0.0), (0.1 * floor_ms, 0.05 * floor_ms))]
    best = None
    for x0 in starts:
        sol = least_squares(residual, np.clip(x0, _LOWER, _UPPER), bounds=(_LOWER, _UPPER),
                            x_scale="jac", max_nfev=2000)
        if best is None or sol.cost < best.cost:
            best = sol
    be, ce, of_ms, ol_ms = (float(v) for v in best.x)
    params = {"bandwidth_efficiency": be, "compute_efficiency": ce,
              "overhead_per_forward_s": of_ms * _MS, "overhead_per_layer_s": ol_ms * _MS}
    fitted = replace(hardware, **params, default_dtype=dtype)
    points = df.assign(predicted_s=_predict(best.x, compute, memory, layers))
    points["rel_error"] = points["predicted_s"] / points["seconds"] - 1.0
    return Fit(fitted, params, points, float(best.cost))
