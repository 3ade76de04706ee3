"""What each sequence drafts in a step when that is not one γ for the whole batch, and how many
drafts the target accepts then:

- per-sequence γ policies (transformers' heuristic, llama.cpp's confidence cut-off: see
  :mod:`osdsim.sim.policies`) give each sequence its own number of drafts and draft forwards;
- an n-gram lookup drafts only for the sequences whose context matched (``match_rate``) — the
  others take a plain step in the same verify;
- a tree draft proposes its nodes; the accepted length follows from the tree and per-depth rank
  acceptance (:mod:`osdsim.cost.tree`), sampled from that distribution with one uniform draw per
  sequence.

Accepted drafts under per-sequence drafting are the i.i.d. draws of :mod:`osdsim.sim.draws`
capped at each sequence's drafts (a confidence cut-off's passed tokens accepted with
``alpha_passed`` when it is given).
"""

from __future__ import annotations

import numpy as np

from osdsim.acceptance import geometric_scale
from osdsim.cost import tree as trees
from osdsim.sim.batch import DOM


class Proposer:
    """Per-replica helper of the engine's stages 2 (what is drafted) and 4 (what is accepted)."""

    def __init__(self, rep, drafter, policy_spec):
        self.tree = drafter.tree if drafter is not None else None
        self.match = drafter.match_rate if drafter is not None else 1.0
        self.per_sequence = bool(getattr(rep.gamma, "per_sequence", False)) or self.match < 1.0
        passed = getattr(policy_spec, "alpha_passed", None)
        self.passed_scale = geometric_scale(passed) if passed is not None else None
        self.cdf_rows = np.zeros((0, 0))  # accepted-length CDF per domain [domain, depth + 1]
        self.depth = trees.depth(self.tree) if self.tree is not None else 0
        self.counts = trees.rank_sum_counts(self.tree) if self.tree is not None else None

    def refresh(self, alpha_l: list[float]) -> None:
        """The tree's accepted-length CDF per domain for the draft as it is now."""
        if self.tree is None:
            return
        self.cdf_rows = np.vstack([trees.geometric_length_cdf(self.counts, a) for a in alpha_l])

    def plan(self, rep, batch: int, gamma: int):
        """(drafts, draft forwards) per sequence (intp arrays), or None when all draft γ."""
        if not self.per_sequence:
            return None
        if getattr(rep.gamma, "per_sequence", False):
            drafts, forwards = rep.gamma.drafts(rep, batch, gamma)
        else:
            drafts = np.full(batch, gamma, dtype=np.intp)
            forwards = drafts
        if self.match < 1.0:  # contexts without a match draft nothing this step
            hit = rep.rng.random(batch) < self.match
            drafts, forwards = np.where(hit, drafts, 0), np.where(hit, forwards, 0)
        return drafts, forwards

    def accepted_each(self, rep, batch: int, gamma: int, drafts: np.ndarray) -> np.ndarray:
        """Accepted drafts per sequence, each at most its own drafts."""
        views = rep.batch.views[batch]
        if self.passed_scale is not None:
            x = rep.rng.standard_exponential(batch) * self.passed_scale
            acc = np.minimum(x, gamma).astype(np.intp)
        else:
            acc = rep.draws.accepted(batch, views, gamma)
        return np.minimum(acc, drafts)

    def accepted_tree(self, rep, batch: int) -> np.ndarray:
        """Accepted path length per sequence, drawn from each domain's tree distribution."""
        u = rep.rng.random(batch)
        if len(self.cdf_rows) == 1:
            return np.minimum(np.searchsorted(self.cdf_rows[0], u, side="right"), self.depth).astype(np.intp)
        dom = rep.batch.views[batch].rows[:, DOM].astype(np.intp)
        # searchsorted(cdf, u, side="right") = how many CDF entries are <= u, per sequence's domain
        acc = (self.cdf_rows[dom] <= u[:, None]).sum(axis=1)
        return np.minimum(acc, self.depth).astype(np.intp)
