"""A run trace made by a known cost model and i.i.d. acceptance: the ground truth for tests.

The lines mirror ``osdsim/real/online.py``: per record, step lines (``position``, ``drafted``,
``accepted``, ``emitted``, ``draft_s``, ``verify_s``) then a baseline record and the speculative
record. Validating such a trace with the same cost model must give (near) zero error.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from osdsim.specs import ModelSpec
from osdsim.validate.replay import baseline_s, prefill_s, step_s


def synthetic_trace(cost, target: ModelSpec, draft: ModelSpec, *, gamma: int = 3, alpha: float = 0.7,
                    records: int = 20, prompt_tokens: int = 16, num_tokens: int = 48, noise: float = 0.0,
                    rng: np.random.Generator | None = None, batch: int = 1) -> list[tuple[str, dict[str, Any]]]:
    """(type, fields) lines of a trace; timings multiplied by (1 + noise·N(0,1)) if ``noise``;
    steps priced (and labelled) at ``batch`` sequences per forward."""
    rng = rng or np.random.default_rng(0)

    def jitter(x: float) -> float:
        return x * (1.0 + noise * rng.standard_normal()) if noise else x

    lines: list[tuple[str, dict[str, Any]]] = [("meta", {
        "schema_version": 1, "source": "synthetic", "target": target.name, "draft": draft.name,
        "gamma": gamma, "mode": "speculative", "temperature": 0.0, "seed": 0})]
    for rec in range(records):
        position, made, total, step, accepted_sum, tested = prompt_tokens, 0, 0.0, 0, 0, 0
        total = prefill_s(cost, target, prompt_tokens) + prefill_s(cost, draft, prompt_tokens)
        while made < num_tokens:
            g = min(gamma, num_tokens - made - 1)
            matches = rng.random(g) < alpha
            acc = int(np.argmin(matches)) if not matches.all() else g
            d, v = step_s(cost, target, draft, g, position, batch)
            d, v = jitter(d), jitter(v)
            lines.append(("step", {"record": rec, "step": step, "gamma": g, "drafted": g, "accepted": acc,
                                   "emitted": acc + 1, "draft_s": d, "verify_s": v, "position": position,
                                   "batch": batch}))
            total += d + v
            made += acc + 1
            position += acc + 1
            step += 1
            accepted_sum += acc
            tested += min(acc + 1, g)
        base = jitter(baseline_s(cost, target, prompt_tokens, made))
        common = {"record": rec, "domain": "synthetic", "num_tokens": made, "prompt_tokens": prompt_tokens}
        lines.append(("record", {**common, "alpha": None, "latency_s": base, "draft_version": None,
                                 "mode": "baseline"}))
        lines.append(("record", {**common, "alpha": accepted_sum / tested if tested else None,
                                 "latency_s": total, "draft_version": 0, "steps": step, "mode": "speculative"}))
    return lines
