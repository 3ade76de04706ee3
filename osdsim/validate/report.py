"""Error statistics of predicted vs measured: absolute percentage errors, speedup, α over records."""

from __future__ import annotations

import numpy as np
import pandas as pd


def error_stats(predicted, measured) -> dict[str, float]:
    """Median and 90th percentile of the APE and the mean signed error (percent; > 0 means
    over-predicted), and the number of points."""
    p, m = np.asarray(predicted, dtype=float), np.asarray(measured, dtype=float)
    ok = np.isfinite(p) & np.isfinite(m) & (m > 0)
    if not ok.any():
        return {"points": 0, "median_ape_pct": None, "p90_ape_pct": None, "mean_signed_pct": None}
    signed = (p[ok] / m[ok] - 1.0) * 100.0
    e = np.abs(signed)
    return {"points": int(ok.sum()), "median_ape_pct": float(np.median(e)),
            "p90_ape_pct": float(np.quantile(e, 0.9)), "mean_signed_pct": float(np.mean(signed))}


def throughput(records: pd.DataFrame) -> dict[str, float]:
    """Σ tokens / Σ latency, measured and predicted, and the percentage error."""
    tokens = float(records["num_tokens"].sum())
    measured = tokens / float(records["latency_s"].sum())
    predicted = tokens / float(records["predicted_latency_s"].sum())
    return {"measured_tok_s": measured, "predicted_tok_s": predicted,
            "error_pct": (predicted / measured - 1.0) * 100.0}


def speedup(spec: pd.DataFrame, base: pd.DataFrame) -> dict[str, float] | None:
    """Baseline mean latency / speculative mean latency over the records both served."""
    both = sorted(set(spec["record"]) & set(base["record"]))
    if not both:
        return None
    s = spec.set_index("record").loc[both]
    b = base.set_index("record").loc[both]
    measured = float(b["latency_s"].mean() / s["latency_s"].mean())
    predicted = float(b["predicted_latency_s"].mean() / s["predicted_latency_s"].mean())
    return {"records": len(both), "measured": measured, "predicted": predicted,
            "error_pct": (predicted / measured - 1.0) * 100.0}


def alpha_over_records(records: pd.DataFrame, window: int = 50) -> dict[str, float]:
    """α per record measured vs the acceptance model's expectation: absolute error, and the APE of
    the moving averages over ``window`` records (the OSD paper plots α that way)."""
    df = records.dropna(subset=["alpha", "predicted_alpha"]).sort_values("record")
    if df.empty:
        return {"records": 0}
    abs_err = np.abs(df["predicted_alpha"] - df["alpha"])
    ma_m = df["alpha"].rolling(window, min_periods=1).mean()
    ma_p = df["predicted_alpha"].rolling(window, min_periods=1).mean()
    return {"records": int(len(df)), "median_abs_error": float(abs_err.median()),
            "p90_abs_error": float(abs_err.quantile(0.9)), "window": window,
            "moving_average": error_stats(ma_p, ma_m)}


def record_noise_floor(records: pd.DataFrame, min_group: int = 3) -> dict[str, float]:
    """The per-record error a perfect deterministic model would still make on this run.

    Baseline records with the same prompt length and output length do identical work; each is
    compared with the median latency of its group (groups of at least ``min_group``; the median
    includes the record itself, so with small groups this floor reads somewhat low). On a
    machine whose speed drifts (other tenants, frequency), this floor sits under any model's
    per-record error, speculative records included.
    """
    if "mode" not in records or not {"prompt_tokens", "num_tokens", "latency_s"} <= set(records):
        return error_stats([], [])
    base = records[records["mode"] == "baseline"]
    key = [base["prompt_tokens"], base["num_tokens"]]
    size = base.groupby(key)["latency_s"].transform("size")
    typical = base.groupby(key)["latency_s"].transform("median")
    keep = size >= min_group
    return error_stats(typical[keep], base["latency_s"][keep])


def common_factor(steps: pd.DataFrame) -> float | None:
    """Correlation over records of the draft part's and the verify part's prediction error.

    Near 1, a record's error is one factor on both models at once: the machine's speed while
    it ran (other tenants, frequency), not the cost model, which prices the two separately.
    None with fewer than three records that drafted.
    """
    if "record" not in steps:
        return None
    per = steps[steps["drafted"] > 0].groupby("record")[
        ["draft_s", "predicted_draft_s", "verify_s", "predicted_verify_s"]].sum()
    per = per[(per["draft_s"] > 0) & (per["verify_s"] > 0)]
    if len(per) < 3:
        return None
    d = per["predicted_draft_s"] / per["draft_s"]
    v = per["predicted_verify_s"] / per["verify_s"]
    if d.std() == 0 or v.std() == 0:
        return None
    return float(np.corrcoef(d, v)[0, 1])


def noise_floor(steps: pd.DataFrame, context_bin: int = 32) -> dict[str, float]:
    """The error a perfect deterministic model of (drafted tokens, context) would still make.

    Each measured step time is compared with the median of the steps sharing its ``drafted``,
    context bin and batch: on a shared CPU this spread (other processes, caches, frequency) is the
    floor under any cost model's per-step error.
    """
    key = [steps["drafted"], (steps["position"] // context_bin).astype(int)]
    if "batch" in steps:
        key.append(steps["batch"])
    typical = steps.groupby(key)["measured_s"].transform("median")
    return error_stats(typical, steps["measured_s"])
