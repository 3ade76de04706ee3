"""What a confidence cut-off would have done, measured on a trace's steps.

llama.cpp's ``--draft-p-min`` and transformers' ``assistant_confidence_threshold`` stop drafting
at the first draft token whose top probability is below p_min. A trace from ``osdsim run``
records the draft's top probability per drafted token (``confidence``) and the verdict per tested
position (``accepted_mask``), so the cut-off can be replayed on each recorded step: walk the
drafts in order, stop at the first one below p_min (it is computed but not proposed) or at the
first rejection. The walk gives the two rates the closed form and the simulator's confidence
policy take (``osdsim.cost.gamma_policy``, ``osdsim.sim.policies.ConfidenceGamma``):

- ``pass_rate`` — P(a reached draft is at or above p_min);
- ``alpha_passed`` — P(a proposed draft is accepted);

and the replayed mean tokens per step (``tau``, bonus token included) with at most the run's γ
drafts, which the closed form with those two rates should reproduce when the i.i.d. assumption
holds (the summary carries both, so a user sees when it does not).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def replay_cutoff(confidences: Sequence[float], accepted_mask: Sequence[int], p_min: float) -> tuple[int, int, int, int]:
    """One step under the cut-off: (reached, passed, proposed-and-accepted, proposed)."""
    reached = passed = accepted = proposed = 0
    for i, c in enumerate(confidences):
        reached += 1
        if c < p_min:
            break
        passed += 1
        if i >= len(accepted_mask):  # untested in the run (after a rejection): cannot happen on the walk
            break
        proposed += 1
        if not accepted_mask[i]:
            break
        accepted += 1
    return reached, passed, accepted, proposed


def confidence_rates(steps: Iterable[tuple[Sequence[float], Sequence[int]]], p_min: float) -> dict:
    """``steps``: (confidence per drafted token, accepted_mask) pairs of a run's steps. Returns
    pass_rate, alpha_passed, tau (replayed), mean_drafts (proposed per step) and the counts."""
    if not 0.0 <= float(p_min) <= 1.0:
        raise ValueError(f"p_min must be in [0, 1], got {p_min!r}")
    n = reached = passed = accepted = proposed = 0
    for conf, mask in steps:
        if conf is None or len(conf) == 0:
            continue
        r, p, a, q = replay_cutoff(list(conf), list(mask), float(p_min))
        n, reached, passed, accepted, proposed = n + 1, reached + r, passed + p, accepted + a, proposed + q
    if n == 0:
        raise ValueError("no step carries draft confidences (record the trace with osdsim run and a draft model "
                         "or --proposer self)")
    return {"p_min": float(p_min), "steps": n, "pass_rate": passed / reached,
            "alpha_passed": accepted / proposed if proposed else float("nan"),
            "tau": 1.0 + accepted / n, "mean_drafts": proposed / n}


def trace_confidence_rates(step_table, p_min: float) -> dict:
    """:func:`confidence_rates` over a trace's step table (columns ``confidence``, ``accepted_mask``)."""
    if "confidence" not in getattr(step_table, "columns", ()):
        raise ValueError("the trace's steps have no 'confidence' field (recorded by an older osdsim, or by a "
                         "proposer without one, such as n-gram lookup)")
    pairs = ((c, m) for c, m in zip(step_table["confidence"], step_table["accepted_mask"], strict=True)
             if isinstance(c, (list, tuple, np.ndarray)))
    return confidence_rates(pairs, p_min)
