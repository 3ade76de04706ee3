"""Hardware cards from a calibration, and timing rows from a run trace's steps.

``hardware_card(fit, rows)`` is the YAML mapping (in the spec-sheet units of
``models/hardware/*.yaml``) that ``osdsim calibrate --out`` writes; ``load_hardware`` reads it
back, ``measured`` table included. ``timings_from_trace`` turns the draft and verify times of a
real run (``osdsim/real/speculative.py``) into timing rows for the same fit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from osdsim.specs import HardwareSpec

TABLE_DIGITS = 9  # seconds kept to the nanosecond


def hardware_card(hw: HardwareSpec, rows: pd.DataFrame | None = None, source: str = "") -> dict[str, Any]:
    """The card mapping of ``hw`` (fitted numbers) with ``rows`` as its ``measured`` table."""
    card: dict[str, Any] = {
        "memory_GB": hw.memory_bytes / 1e9,
        "bandwidth_GBps": hw.bandwidth_Bps / 1e9,
        "peak_TFLOPs": {k: v / 1e12 for k, v in hw.peak_flops.items()},
        "interconnect_GBps": hw.interconnect_Bps / 1e9,
        "interconnect_latency_us": hw.interconnect_latency_s * 1e6,
        "bandwidth_efficiency": round(float(hw.bandwidth_efficiency), 6),
        "compute_efficiency": round(float(hw.compute_efficiency), 6),
        "overhead_per_forward_us": round(float(hw.overhead_per_forward_s) * 1e6, 3),
        "overhead_per_layer_us": round(float(hw.overhead_per_layer_s) * 1e6, 3),
        "default_dtype": hw.default_dtype,
        "gpus_per_node": hw.gpus_per_node,
        "source": source or hw.source,
    }
    if rows is not None and len(rows):
        card["measured"] = [
            {"model": str(r.model), "batch": int(r.batch), "new_tokens": int(r.new_tokens),
             "context": int(r.context), "seconds": round(float(r.seconds), TABLE_DIGITS)}
            for r in rows.itertuples(index=False)]
    return card


def timings_from_trace(steps: pd.DataFrame, target: str, draft: str, context_bin: int = 32,
                       records: pd.DataFrame | None = None, statistic: str = "mean") -> pd.DataFrame:
    """Timing rows (model, batch, new_tokens, context, seconds, count) from a run trace.

    A step's ``verify_s`` is one target forward over ``drafted + 1`` tokens after a cache of
    ``position − 1`` tokens; its ``draft_s`` is ``drafted`` draft forwards of one new token each
    (the first may feed two when the previous step accepted everything; counted as one). With
    ``records``, each baseline record adds its prefill (target over prompt − 1 tokens at context
    0) and its mean decode forward ((latency − prefill) / tokens, at its mean context). Rows are
    the ``statistic`` ("mean" or "median") per (model, new_tokens, context bin of
    ``context_bin`` tokens), contexts at the bin's median. The mean is the default: a record's
    latency is a sum of steps, and on a shared CPU step times are right-skewed (a neighbour's
    burst), so the median under-predicts sums by 10-30% where the mean does not.
    """
    if statistic not in ("mean", "median"):
        raise ValueError(f"statistic must be mean or median, got {statistic!r}")
    need = {"drafted", "draft_s", "verify_s", "position"}
    if steps.empty or not need <= set(steps):
        raise ValueError(f"a trace needs step lines with {', '.join(sorted(need))} to calibrate from")
    s = steps.copy()
    s["batch"] = s.get("batch", pd.Series(1, index=s.index)).fillna(1)
    s["context"] = s["position"].astype(float) - 1.0
    parts = [pd.DataFrame({"model": target, "batch": s["batch"], "new_tokens": s["drafted"] + 1,
                           "context": s["context"], "seconds": s["verify_s"]})]
    d = s[s["drafted"] > 0]
    parts.append(pd.DataFrame({"model": draft, "batch": d["batch"], "new_tokens": 1,
                               "context": d["context"] + (d["drafted"] - 1) / 2.0,
                               "seconds": d["draft_s"] / d["drafted"]}))
    if records is not None:
        parts += _baseline_rows(records, target)
    rows = pd.concat(parts, ignore_index=True)
    rows["bin"] = (rows["context"] // context_bin).astype(int)
    out = (rows.groupby(["model", "batch", "new_tokens", "bin"], as_index=False)
           .agg(context=("context", "median"), seconds=("seconds", statistic), count=("seconds", "size")))
    out["context"] = np.round(out["context"]).astype(int)
    return out.loc[:, ["model", "batch", "new_tokens", "context", "seconds", "count"]]


def _baseline_rows(records: pd.DataFrame, target: str) -> list[pd.DataFrame]:
    need = {"mode", "prompt_tokens", "prefill_s", "latency_s", "num_tokens"}
    if not need <= set(records):
        return []
    b = records[(records["mode"] == "baseline") & (records["num_tokens"] > 0)].dropna(subset=list(need))
    if b.empty:
        return []
    prompt = b["prompt_tokens"].astype(float)
    pre = b[prompt > 1]
    return [pd.DataFrame({"model": target, "batch": 1, "new_tokens": pre["prompt_tokens"] - 1,
                          "context": 0.0, "seconds": pre["prefill_s"]}),
            pd.DataFrame({"model": target, "batch": 1, "new_tokens": 1,
                          "context": prompt - 1.0 + (b["num_tokens"] - 1) / 2.0,
                          "seconds": (b["latency_s"] - b["prefill_s"]) / b["num_tokens"]})]
