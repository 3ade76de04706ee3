"""Hardware cards from a calibration, and timing rows from a run trace's steps.

``hardware_card(fit, rows)`` is the YAML mapping (in the spec-sheet units of
``osdsim/cards/hardware/*.yaml``) that ``osdsim calibrate --out`` writes; ``load_hardware`` reads it
back, ``measured`` table included. Timing rows from a run trace: ``calibrate.from_trace``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from osdsim.specs import HardwareSpec

TABLE_DIGITS = 9  # seconds kept to the nanosecond


def hardware_card(hw: HardwareSpec, rows: pd.DataFrame | None = None, source: str = "",
                  updates: pd.DataFrame | None = None) -> dict[str, Any]:
    """The card mapping of ``hw`` (fitted numbers) with ``rows`` as its ``measured`` table and
    ``updates`` (model, num_tokens, seconds) as its ``measured_updates``."""
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
    if updates is not None and len(updates):
        card["measured_updates"] = [
            {"model": str(r.model), "num_tokens": int(r.num_tokens), "seconds": round(float(r.seconds), TABLE_DIGITS)}
            for r in updates.itertuples(index=False)]
    return card


def card_text(card: dict[str, Any], base: str) -> str:
    """The YAML text of a calibrated ``card`` (what ``osdsim calibrate --out`` writes)."""
    import yaml

    return (f"# Calibrated by `osdsim calibrate`; peaks and bandwidth from card {base}.\n"
            + yaml.safe_dump(card, sort_keys=False))
