"""Drawing a step's outcome: how many of γ drafts each sequence of the batch gets accepted.

Two samplers behind one call, ``accepted(batch, views, gamma)``:

- :class:`IidDraws`, for acceptance models with i.i.d. positions (constant α, learning curves):
  accepted = min(floor(E · s), γ) with E ~ Exp(1) and s = 1/−ln α the sequence's scale, which is
  Geometric with P(accepted ≥ k) = α^k (:func:`osdsim.acceptance.sample_iid` draws the same way).
  The Exp(1) draws come from the replica's Generator in blocks of ``EXP_BLOCK``, consumed in row
  order, so the outcome of a run depends on its seed alone.
- :class:`ModelDraws`, for the others (per-position, empirical): the acceptance model samples
  each domain's sequences (``sample_many``) in increasing domain order.
"""

from __future__ import annotations

import numpy as np

from osdsim.sim.batch import DOM

EXP_BLOCK = 1 << 16  # standard exponentials drawn per refill of the buffer
# Largest scale for which E·s (E < 40 in practice) casts to an integer safely; above it (α within
# ~1e-15 of 1) the draws are capped at γ before the cast.
SAFE_SCALE = 1e15


class IidDraws:
    """Geometric accepted counts from a buffer of Exp(1) draws (see the module docstring)."""

    iid = True

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.exp, self.pos = np.zeros(0), 0
        self.cap_first = False  # set by the replica when some scale exceeds SAFE_SCALE

    def accepted(self, n: int, views, gamma: int) -> np.ndarray:
        """Accepted drafts (intp) of the ``n`` sequences whose scales are ``views.scale``; values
        above γ are left for the caller's table (``take(..., mode="clip")``) to cap."""
        pos = self.pos
        if pos + n > len(self.exp):
            self.exp, pos = self.rng.standard_exponential(max(EXP_BLOCK, n)), 0
        self.pos = pos + n
        x = np.multiply(self.exp[pos:pos + n], views.scale, out=views.buf)
        if self.cap_first:
            np.minimum(x, gamma, out=x)
        return x.astype(np.intp)  # floor: the values are >= 0


class ModelDraws:
    """Accepted counts sampled by the acceptance model, one call per domain in the batch."""

    iid = False

    def __init__(self, rng: np.random.Generator, model, domains: list[str], n_trained: list[float]):
        self.rng, self.model, self.domains, self.n_trained = rng, model, domains, n_trained
        self.cap_first = False

    def accepted(self, n: int, views, gamma: int) -> np.ndarray:
        if len(self.domains) == 1:
            return np.asarray(self.model.sample_many(self.rng, gamma, n, self.domains[0], self.n_trained[0]),
                              dtype=np.intp)
        acc = np.empty(n, dtype=np.intp)
        dom = views.rows[:, DOM].astype(np.int64)
        for d in np.unique(dom):
            mask = dom == d
            acc[mask] = self.model.sample_many(self.rng, gamma, int(mask.sum()), self.domains[d],
                                               self.n_trained[d])
        return acc
