"""One engine step of speculative decoding at batch B: the one home of its price.

A step = γ sequential draft forwards (one new token each; the i-th sees context + i − 1 tokens,
priced at their mean, context + (γ − 1)/2) + one target verify over γ + 1 tokens per sequence
(under batch expansion, vLLM V0's scorer: B·(γ + 1) one-token sequences) + what the framework
adds per iteration (scheduler, sampler, rejection sampler). Plain decoding is γ = 0. At batch 1
in the memory-bound regime the verify costs about one decode and the step reduces to
Leviathan's γc + 1; at large B·(γ + 1) the verify crosses the ridge point, turns compute-bound,
and speculation stops paying (SmartSpec, Liu et al. 2024, arXiv 2406.14066).

:func:`step_price` works on any :class:`~osdsim.cost.model.CostModel` (the simulator's path);
:func:`spec_step_time` and friends price from cards and broadcast over numpy arrays (sweeps,
``osdsim speedup``), through the same :func:`step_price`.
"""

from __future__ import annotations

import numpy as np

from osdsim.cost.closed_form import tau
from osdsim.cost.drafts import model_drafter
from osdsim.cost.model import RooflineCost
from osdsim.cost.roofline import forward_flops, forward_time
from osdsim.specs import HardwareSpec, ModelSpec


def draft_context(context, gamma):
    """Mean context of a step's γ draft forwards: context + (γ − 1)/2 (context for γ ≤ 1)."""
    return context + np.maximum(np.asarray(gamma, dtype=float) - 1.0, 0.0) / 2.0 if np.ndim(gamma) \
        else context + max(gamma - 1, 0) / 2.0


def as_drafter(draft):
    """A :class:`~osdsim.cost.drafts.Drafter` for ``draft`` (a card: a separate draft model)."""
    return model_drafter(draft) if isinstance(draft, ModelSpec) else draft


def step_price(target_s, draft_s, target: ModelSpec, draft, batch, gamma, context, overhead_s,
               batch_expansion: bool = False, cpu: bool = True):
    """Seconds (or FLOPs) of one step, from ``target_s(model, batch, new_tokens, context)`` and
    ``draft_s(...)`` pricing single forwards and ``overhead_s(batch, gamma, ...)`` the
    framework's per-iteration costs (to price FLOPs, pass FLOP pricers, a function returning 0
    and ``cpu=False``: an n-gram lookup's CPU seconds are no FLOPs). ``draft``: a card (a
    separate model), a :class:`~osdsim.cost.drafts.Drafter`, or None (plain decoding)."""
    g = gamma
    drafter = as_drafter(draft) if draft is not None and (np.ndim(g) or g) else None
    if drafter is not None and (drafter.tree is not None or drafter.kind == "ngram" or drafter.parallel):
        return _other_step(target_s, draft_s, target, drafter, batch, int(g), context, overhead_s,
                           batch_expansion, cpu)
    if batch_expansion:
        verify = target_s(target, batch * (g + 1), 1, context)
    else:
        verify = target_s(target, batch, g + 1, context)
    out = verify + overhead_s(batch, g)
    if drafter is None:
        return out
    return out + g * draft_s(drafter.model, batch, 1, draft_context(context, g))



def _other_step(target_s, draft_s, target, drafter, batch, gamma, context, overhead_s, batch_expansion, cpu):
    """A tree, a Medusa head or an n-gram lookup: the drafter's forwards (one per depth, over
    that depth's nodes), a verify over every drafted token, the lookup's CPU time."""
    verified = drafter.verified(gamma)
    if batch_expansion:
        verify = target_s(target, batch * verified, 1, context)
    else:
        verify = target_s(target, batch, verified, context)
    forwards = len(drafter.steps(gamma))
    return (verify + proposal_price(draft_s, drafter, batch, gamma, context, cpu)
            + overhead_s(batch, gamma, verified_tokens=batch * verified, draft_forwards=forwards))


def proposal_price(draft_s, drafter, batch, gamma, context, cpu: bool = True):
    """Seconds (or, with FLOP pricers and ``cpu`` False, FLOPs) of a step's proposal: the
    drafter's forwards — γ in a chain, priced at their mean context, one per depth of a tree
    over that depth's nodes, one for Medusa — or an n-gram lookup's CPU time."""
    if drafter.kind == "ngram":
        return drafter.cpu_per_step_s + batch * drafter.cpu_per_seq_s if cpu else 0.0
    if drafter.tree is None and not drafter.parallel:
        return gamma * draft_s(drafter.model, batch, 1, draft_context(context, gamma))
    return sum(draft_s(drafter.model, batch, k, context + i) for i, k in enumerate(drafter.steps(gamma)))


def step_cost(cost, target: ModelSpec, draft: ModelSpec | None, batch: int, gamma: int, context: float,
              draft_cost=None) -> tuple[float, float]:
    """(seconds, FLOPs) of one step priced by a CostModel; ``draft_cost`` prices the draft's
    forwards (default ``cost``; ``cost.for_draft(draft_tp)`` for a draft at its own parallelism)."""
    draft_cost = draft_cost or cost
    expansion = bool(getattr(cost, "batch_expansion", False))
    seconds = step_price(cost.forward_s, draft_cost.forward_s, target, draft, batch, gamma, context,
                         getattr(cost, "step_overhead_s", _zero), expansion)
    flops = step_price(cost.forward_flops, draft_cost.forward_flops, target, draft, batch, gamma, context,
                       _zero, expansion, cpu=False)
    return float(seconds), float(flops)


def _zero(batch, gamma, **_):
    return 0.0



def _card_prices(hw, dtype, tp, draft_tp, framework, draft_dtype=None):
    target = RooflineCost(hw, dtype=dtype, tp=tp, framework=framework)

    def target_s(model, b, k, ctx):
        return forward_time(model, hw, b, k, ctx, dtype=dtype, tp=tp, framework=target.fw)

    def draft_s(model, b, k, ctx):
        return forward_time(model, hw, b, k, ctx, dtype=draft_dtype or dtype, tp=draft_tp, framework=target.fw)

    return target, target_s, draft_s


def c_from_cards(target: ModelSpec, draft, hw: HardwareSpec, batch=1, context=128,
                 dtype: str | None = None, tp: int = 1, draft_tp: int = 1, framework=None, draft_dtype=None):
    """c = one draft forward (one token per sequence) / one target decode forward on ``hw`` at
    ``batch``; 0 for an n-gram lookup (no model)."""
    drafter = as_drafter(draft)
    if drafter.model is None:
        return 0.0
    if drafter.kind != "model":
        draft_tp = tp
    _, target_s, draft_s = _card_prices(hw, dtype, tp, draft_tp, framework, draft_dtype)
    d, t = draft_s(drafter.model, batch, 1, context), target_s(target, batch, 1, context)
    return np.asarray(d) / np.asarray(t) if np.ndim(d) or np.ndim(t) else d / t


def plain_step_time(target: ModelSpec, hw: HardwareSpec, batch, context, dtype=None, tp: int = 1,
                    framework=None):
    """Seconds of one plain decoding step (one target forward and the framework's step costs)."""
    return spec_step_time(target, None, hw, batch, 0, context, dtype, tp, 1, framework)


def spec_step_time(target: ModelSpec, draft: ModelSpec | None, hw: HardwareSpec, batch, gamma, context,
                   dtype=None, tp: int = 1, draft_tp: int = 1, framework=None, draft_dtype=None):
    """Seconds of one speculative step: γ draft forwards + a verify over γ+1 tokens per sequence
    + the framework's step costs (γ = 0: plain decoding)."""
    g = np.asarray(gamma, dtype=float)
    if np.any(g < 0) or np.any(g != np.round(g)):
        raise ValueError("gamma must be a non-negative integer")
    if draft_tp < 1 or int(draft_tp) != draft_tp:
        raise ValueError("draft_tp must be a positive integer")
    draft = as_drafter(draft) if draft is not None else None
    if draft is not None and draft.kind != "model":
        draft_tp = tp  # heads and self-speculation run inside the target, at its parallelism
    if draft is not None and draft.model is not None and draft.model.num_heads % draft_tp:
        raise ValueError(f"draft_tp={draft_tp} does not divide the {draft.model.num_heads} heads of {draft.name}")
    cost, target_s, draft_s = _card_prices(hw, dtype, tp, draft_tp, framework, draft_dtype)
    gamma = g if g.ndim else int(g)
    out = step_price(target_s, draft_s, target, draft, batch, gamma, context, cost.fw.step_s,
                     cost.fw.batch_expansion)
    out = np.asarray(out)
    return out if out.ndim else float(out)


def step_flops(target: ModelSpec, draft: ModelSpec | None, batch, gamma, context, batch_expansion=False):
    """FLOPs of one step (all GPUs together)."""
    def flops(model, b, k, ctx):
        return forward_flops(model, b, k, ctx)

    return step_price(flops, flops, target, draft, batch, gamma, context, _zero, batch_expansion, cpu=False)


def spec_speedup(alpha, target: ModelSpec, draft: ModelSpec, hw: HardwareSpec, batch, gamma, context,
                 dtype=None, tp: int = 1, draft_tp: int = 1, framework=None):
    """Decode throughput of speculation over plain decoding at the same batch: τ·T_plain / T_step."""
    step = np.asarray(spec_step_time(target, draft, hw, batch, gamma, context, dtype, tp, draft_tp, framework))
    plain = np.asarray(plain_step_time(target, hw, batch, context, dtype, tp, framework))
    out = np.asarray(tau(alpha, gamma)) * plain / step
    return out if out.ndim else float(out)


def optimal_gamma_at_batch(alpha, target: ModelSpec, draft: ModelSpec, hw: HardwareSpec, batch, context,
                           dtype=None, tp: int = 1, draft_tp: int = 1, max_gamma: int = 16, framework=None):
    """Best integer γ in [0, max_gamma] by roofline speedup at this batch, and that speedup."""
    a, b, ctx = np.broadcast_arrays(np.asarray(alpha, float), np.asarray(batch, float), np.asarray(context, float))
    grid = np.arange(max_gamma + 1, dtype=float).reshape((-1,) + (1,) * a.ndim)
    speed = np.asarray(spec_speedup(a[None], target, draft, hw, b[None], grid, ctx[None], dtype, tp, draft_tp,
                                    framework))
    best = np.argmax(speed, axis=0)
    best_speed = np.take_along_axis(speed, best[None], axis=0)[0]
    if best.ndim == 0:
        return int(best), float(best_speed)
    return best, best_speed
