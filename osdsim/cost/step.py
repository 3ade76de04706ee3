"""Speculative decoding at batch B, priced by the roofline.

One speculative step = γ sequential draft forwards (1 new token each) + one target verify over
γ+1 tokens per sequence, all at the same batch and context. Plain decoding is one target forward
over 1 token. At batch 1 and in the memory-bound regime the verify costs about one decode and
the step reduces to Leviathan's γc + 1; at large B·(γ+1) the verify crosses the ridge point,
turns compute-bound, and speculation stops paying (SmartSpec, Liu et al. 2024, arXiv 2406.14066).
"""

from __future__ import annotations

import numpy as np

from osdsim.cost.closed_form import tau
from osdsim.cost.roofline import forward_time
from osdsim.specs import HardwareSpec, ModelSpec


def c_from_cards(target: ModelSpec, draft: ModelSpec, hw: HardwareSpec, batch=1, context=128,
                 dtype: str | None = None, tp: int = 1, draft_tp: int = 1):
    """c = draft decode-forward time / target decode-forward time on ``hw`` at ``batch``."""
    d = forward_time(draft, hw, batch, 1, context, dtype=dtype, tp=draft_tp)
    t = forward_time(target, hw, batch, 1, context, dtype=dtype, tp=tp)
    return np.asarray(d) / np.asarray(t) if np.ndim(d) or np.ndim(t) else d / t


def plain_step_time(target: ModelSpec, hw: HardwareSpec, batch, context, dtype=None, tp: int = 1):
    """Seconds of one plain decoding step (one target forward, one new token per sequence)."""
    return forward_time(target, hw, batch, 1, context, dtype=dtype, tp=tp)


def spec_step_time(target: ModelSpec, draft: ModelSpec, hw: HardwareSpec, batch, gamma, context,
                   dtype=None, tp: int = 1, draft_tp: int = 1):
    """Seconds of one speculative step: γ draft forwards + a verify over γ+1 tokens per sequence.

    γ = 0 is plain decoding (no draft forward, a verify of 1 token).
    """
    g = np.asarray(gamma, dtype=float)
    if np.any(g < 0) or np.any(g != np.round(g)):
        raise ValueError("gamma must be a non-negative integer")
    draft_s = np.asarray(forward_time(draft, hw, batch, 1, context, dtype=dtype, tp=draft_tp))
    verify_s = np.asarray(forward_time(target, hw, batch, g + 1.0, context, dtype=dtype, tp=tp))
    out = g * draft_s + verify_s
    return out if out.ndim else float(out)


def spec_speedup(alpha, target: ModelSpec, draft: ModelSpec, hw: HardwareSpec, batch, gamma, context,
                 dtype=None, tp: int = 1, draft_tp: int = 1):
    """Decode throughput of speculation over plain decoding at the same batch: τ·T_plain / T_step."""
    step = np.asarray(spec_step_time(target, draft, hw, batch, gamma, context, dtype, tp, draft_tp))
    plain = np.asarray(plain_step_time(target, hw, batch, context, dtype, tp))
    out = np.asarray(tau(alpha, gamma)) * plain / step
    return out if out.ndim else float(out)


def optimal_gamma_at_batch(alpha, target: ModelSpec, draft: ModelSpec, hw: HardwareSpec, batch, context,
                           dtype=None, tp: int = 1, draft_tp: int = 1, max_gamma: int = 16):
    """Best integer γ in [0, max_gamma] by roofline speedup at this batch, and that speedup."""
    a, b, ctx = np.broadcast_arrays(np.asarray(alpha, float), np.asarray(batch, float), np.asarray(context, float))
    grid = np.arange(max_gamma + 1, dtype=float).reshape((-1,) + (1,) * a.ndim)
    speed = np.asarray(spec_speedup(a[None], target, draft, hw, b[None], grid, ctx[None], dtype, tp, draft_tp))
    best = np.argmax(speed, axis=0)
    best_speed = np.take_along_axis(speed, best[None], axis=0)[0]
    if best.ndim == 0:
        return int(best), float(best_speed)
    return best, best_speed
