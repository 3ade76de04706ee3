"""Spare compute in memory-bound decoding, and the cost of online draft updates in it.

The OSD paper's premise (Liu et al. 2024, Section 4): decoding leaves the ALUs mostly idle, so
a draft distillation update can ride in the unused FLOPs. These functions say how much is
unused and whether the updates due every I records fit into it.
"""

from __future__ import annotations

import numpy as np

from osdsim.cost.framework import resolve
from osdsim.specs import DTYPE_BYTES, HardwareSpec, ModelSpec

TRAIN_FLOPS_PER_PARAM_TOKEN = 6.0  # forward 2 + backward 4 (Kaplan et al. 2020, Section 2.1)
# AdamW with fp32 master weights: read/write weights, grads, two moments (~16 B/param each way).
ADAMW_BYTES_PER_PARAM = 32.0
TRAIN_CALLS_PER_UPDATE = 3.0  # forward, backward, optimizer step: three launches of the model's kernels


def capacity_flops_per_s(hw: HardwareSpec, dtype: str | None = None, tp: int = 1) -> float:
    """Sustainable FLOP/s of a replica: peak × compute efficiency × GPUs."""
    return hw.flops_for(dtype or hw.default_dtype) * hw.compute_efficiency * tp


def spare_flops(step_s, used_flops, hw: HardwareSpec, dtype: str | None = None, tp: int = 1):
    """FLOPs the replica could have done during a step of ``step_s`` seconds but did not."""
    return np.maximum(0.0, capacity_flops_per_s(hw, dtype, tp) * np.asarray(step_s) - np.asarray(used_flops))


def utilisation(step_s, used_flops, hw: HardwareSpec, dtype: str | None = None, tp: int = 1):
    """Fraction of the replica's sustainable FLOPs a step used (0 … 1, can exceed 1 if mis-priced)."""
    return np.asarray(used_flops) / (capacity_flops_per_s(hw, dtype, tp) * np.asarray(step_s))


def distill_flops(draft: ModelSpec, num_tokens):
    """FLOPs of one distillation update of ``draft`` over ``num_tokens`` positions.

    6 FLOPs per parameter per token for forward and backward; the target's distributions come
    free from verification, so no target forward is counted.
    """
    n = np.asarray(num_tokens, dtype=float)
    if np.any(n < 0):
        raise ValueError("num_tokens must be >= 0")
    return TRAIN_FLOPS_PER_PARAM_TOKEN * draft.params * n


def distill_time(draft: ModelSpec, hw: HardwareSpec, num_tokens, dtype: str | None = None, framework=None):
    """Seconds for one update on an otherwise idle device: the roofline of its FLOPs and bytes
    plus three passes (forward, backward, optimizer) of the framework's host work per forward,
    added (a training step synchronises at its end)."""
    dtype = dtype or hw.default_dtype
    fw = resolve(framework, hw)
    flops = distill_flops(draft, num_tokens)
    compute_s = flops / capacity_flops_per_s(hw, dtype)
    nbytes = draft.params * (ADAMW_BYTES_PER_PARAM + 3.0 * DTYPE_BYTES[dtype])
    memory_s = nbytes / (hw.bandwidth_Bps * hw.bandwidth_efficiency)
    overhead_s = TRAIN_CALLS_PER_UPDATE * fw.host_s(draft.num_layers, 1)
    t = np.maximum(compute_s, memory_s) + overhead_s
    return t if np.ndim(t) else float(t)


def update_fits(draft: ModelSpec, hw: HardwareSpec, *, step_s, step_flops, steps_per_record,
                train_tokens_per_record, update_interval, dtype: str | None = None, tp: int = 1) -> dict:
    """Whether the update due every ``update_interval`` records fits in those records' spare FLOPs.

    ``step_s`` and ``step_flops`` describe one serving step; ``steps_per_record`` is how many steps
    a record takes (output tokens / τ at batch 1; divide by the batch when steps are shared).
    Returns a dict of arrays: update_flops, spare_flops (over the window), fraction (update /
    spare) and fits (fraction ≤ 1).
    """
    interval = np.asarray(update_interval, dtype=float)
    if np.any(interval < 1):
        raise ValueError("update_interval must be >= 1")
    window_spare = spare_flops(step_s, step_flops, hw, dtype, tp) * np.asarray(steps_per_record) * interval
    need = distill_flops(draft, np.asarray(train_tokens_per_record) * interval)
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.where(window_spare > 0, need / window_spare, np.inf)
    return {"update_flops": need, "spare_flops": window_spare, "fraction": fraction, "fits": fraction <= 1.0}
