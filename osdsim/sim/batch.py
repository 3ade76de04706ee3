"""The running batch of one replica: one row per sequence, in the order the sequences joined.

Columns of the float64 state matrix (integers held exactly, all < 2^53):

- ``DRAWN``: tokens drawn so far minus the tokens the request will emit after its first; it
  starts at −(output − 1) and a sequence has finished exactly when it reaches 0 or more (what
  it then holds is the overshoot: tokens the last step drew beyond the output);
- ``REJECTED``: steps that ended in a rejection (fewer than γ drafts accepted);
- ``SCALE``: 1/−ln α of the sequence's domain, which turns an Exp(1) draw into a Geometric
  accepted count (:func:`osdsim.acceptance.geometric_scale`);
- ``START``: the replica's step counter when the sequence joined; ``ID``; ``DOM`` (domain index);
- ``GAMMA``: the sequence's own γ, for policies that keep one per sequence (transformers'
  heuristic grows and shrinks it per request).

A step with k accepted drafts adds (k + 1, [k < γ]) to (``DRAWN``, ``REJECTED``): one ``take``
from a (γ + 1) × 2 table and one ``add`` advance every sequence, and the column sums of the
taken rows are the step's drawn tokens and rejections. Rows keep their join order when finished
ones leave (it decides which random draw goes to which sequence, so results are reproducible).
Views of the first k rows are made once per size (``views[k]``): slicing costs more than the
arithmetic at the batch sizes that matter.
"""

from __future__ import annotations

import numpy as np

DRAWN, REJECTED, SCALE, START, ID, DOM, GAMMA = range(7)
COLS = 7


class BatchViews:
    """Views of the first k rows of the state matrix (and scratch buffers of length k)."""

    __slots__ = ("rows", "counters", "drawn", "rejected", "scale", "gamma", "flags", "buf", "ones")

    def __init__(self, matrix: np.ndarray, flags: np.ndarray, buf: np.ndarray, ones: np.ndarray, k: int):
        self.rows = matrix[:k]
        self.counters = matrix[:k, DRAWN:REJECTED + 1]
        self.drawn = matrix[:k, DRAWN]
        self.rejected = matrix[:k, REJECTED]
        self.scale = matrix[:k, SCALE]
        self.gamma = matrix[:k, GAMMA]
        self.flags = flags[:k]
        self.buf = buf[:k]
        self.ones = ones[:k]


class RunningBatch:
    """The sequences a replica decodes together; ``n`` of them, rows ``[:n]`` of ``matrix``."""

    __slots__ = ("n", "matrix", "tables", "views")

    def __init__(self, capacity: int):
        self.n = 0
        self.matrix = np.zeros((0, COLS))
        self.tables: list[np.ndarray | None] = []  # [γ]: the step table of γ drafts (``table``)
        self.grow(capacity)

    def grow(self, capacity: int) -> None:
        """Room for ``capacity`` sequences; live rows are kept."""
        old, cap = self.matrix, capacity + 1
        self.matrix = np.zeros((cap, COLS))
        self.matrix[:self.n] = old[:self.n]
        flags, buf, ones = np.zeros(cap, dtype=bool), np.empty(cap), np.ones(cap)
        self.views = [BatchViews(self.matrix, flags, buf, ones, k) for k in range(cap + 1)]

    @property
    def capacity(self) -> int:
        return len(self.matrix) - 1

    def table(self, gamma: int) -> np.ndarray:
        """Row k: what a step with k accepted drafts adds to (DRAWN, REJECTED): (k + 1, [k < γ])."""
        while len(self.tables) <= gamma:
            k = np.arange(len(self.tables) + 1, dtype=float)
            self.tables.append(np.stack([k + 1.0, (k < len(self.tables)).astype(float)], axis=1))
        return self.tables[gamma]

    def advance(self, accepted: np.ndarray, gamma: int) -> tuple[float, float]:
        """Every sequence's step with ``accepted`` drafts (intp, capped at γ by the table).

        Returns (drawn tokens, steps with a rejection) summed over the batch.
        """
        v = self.views[self.n]
        table = self.tables[gamma] if gamma < len(self.tables) else self.table(gamma)
        step = table.take(accepted, axis=0, mode="clip")
        np.add(v.counters, step, out=v.counters)
        drawn, rejected = v.ones.dot(step).tolist()
        return drawn, rejected

    def advance_each(self, accepted: np.ndarray, drafts: np.ndarray) -> tuple[float, float]:
        """A step in which sequence s drafted ``drafts[s]`` tokens and got ``accepted[s]`` of them
        accepted (both intp; accepted <= drafts); returns (drawn tokens, steps with a rejection)."""
        v = self.views[self.n]
        np.add(v.drawn, accepted + 1, out=v.drawn)
        rejected = np.less(accepted, drafts)
        np.add(v.rejected, rejected, out=v.rejected)
        return float(accepted.sum() + self.n), float(np.count_nonzero(rejected))

    def advance_plain(self) -> None:
        """A plain decoding step: every sequence draws one token."""
        v = self.views[self.n]
        np.add(v.drawn, 1.0, out=v.drawn)

    def any_finished(self) -> bool:
        v = self.views[self.n]
        return bool(np.count_nonzero(np.greater_equal(v.drawn, 0.0, out=v.flags)))

    def retire_finished(self) -> np.ndarray | None:
        """Remove the finished sequences and return their rows (None if none finished); the
        others keep their order."""
        v = self.views[self.n]
        if not np.count_nonzero(np.greater_equal(v.drawn, 0.0, out=v.flags)):
            return None
        done = v.rows.compress(v.flags, axis=0)
        keep = v.rows.compress(np.logical_not(v.flags), axis=0)
        self.n = len(keep)
        self.matrix[:self.n] = keep
        return done

    def live(self, counter: int, output: np.ndarray) -> dict[str, np.ndarray]:
        """Per-sequence counts of the sequences still running: ids, tokens still to emit, steps
        run, accepted drafts and steps that ended in a rejection."""
        rows = self.matrix[:self.n]
        ids = rows[:, ID].astype(np.int64)
        steps = counter - rows[:, START]
        return {"ids": ids, "remaining": -rows[:, DRAWN], "steps": steps,
                "accepted": output[ids] - 1.0 + rows[:, DRAWN] - steps, "rejected": rows[:, REJECTED].copy()}
