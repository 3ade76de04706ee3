"""One replica's state: its queue, KV-cache use, running batch, acceptance and online updates.

Per-sequence state is one row of a float64 matrix per sequence (columns ``Y``, ``SCALE``,
``START``, ``ID``, ``DOM``; rows kept in join order, which fixes which Exp(1) draw goes to which
sequence). ``Y`` packs two counters into one exact integer-valued float: Y = rejections −
K·remaining, K a power of two above any count of rejections (``Cluster.pack``). A step adds
K·(accepted + 1) + [accepted < γ] to every sequence from a small table, one dot product of the
same values gives the step's accepted drafts and rejections, and a sequence has finished exactly
when Y ≥ 0; accepted drafts per sequence follow from tokens emitted − steps.

:class:`Replica` also holds the acceptance side of a speculative step (per-domain α, the
Geometric sampling of accepted drafts, the goodput γ policy); :func:`osdsim.sim.loop.serve`
runs its iterations.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from osdsim.sim import distiller as dist

_EMPTY = np.zeros(0)

# Columns of a replica's running-batch state matrix (one row per sequence, float64).
Y, SCALE, START, ID, DOM = range(5)
COLS = 5
EXP_BLOCK = 1 << 16  # standard exponentials drawn per refill of the sampling buffer


class Replica:
    """State of one replica: its queue, its running batch (rows ``[:n]`` of ``rows``) and drafts.

    ``rows`` columns: Y = rejections − K·(tokens still to emit), 1/−ln α of the sequence's
    domain (the scale that turns an Exp(1) draw into a Geometric accepted count), the replica's
    step counter when the sequence joined, request id, domain index. ``rows`` only moves when
    it grows (``grow``), so the views of its first k rows are made once (``yvs[k]`` etc.).
    """

    def __init__(self, index: int, cluster, rng: np.random.Generator):
        self.index, self.cl, self.rng = index, cluster, rng
        self.waiting: deque[int] = deque()
        self.assigned_l: list[int] = []  # round robin: this replica's requests
        self.assigned_s_l: list[float] = []  # and their arrival times
        self.pulled, self.next_s = 0, math.inf
        self.wake = None  # least_outstanding: event the dispatcher triggers
        self.kv_used = 0.0
        self.n = 0  # sequences in the running batch
        self._gammas: dict[int, list[np.ndarray]] = {}
        self.grow(min(cluster.max_batch, 256))
        self.ctx_sum = 0.0  # Σ context over the batch (prompt + emitted)
        self.alpha_sum = 0.0  # Σ expected α over the batch
        self.counter = 0  # decode steps run so far
        self.prefilling: list[int] = []  # requests whose prefill completes in the iteration in flight
        self.prefill_q: deque[list[int]] = deque()  # chunked prefill: [request, prompt tokens left]
        self._exp, self._pos = _EMPTY, 0
        self._tables: dict[int, np.ndarray] = {}
        # Online distillation: per-domain records trained on, and one distiller per draft.
        self.n_trained = [0.0] * cluster.num_domains
        self.distillers: list[dist.Distiller] = []
        self.update: dist.Update | None = None
        self.refresh_acceptance()

    def grow(self, capacity: int) -> None:
        """Room for ``capacity`` sequences (the live rows are kept) and the views of them."""
        old, cap = getattr(self, "rows", None), capacity + 1
        self.rows = rows = np.zeros((cap, COLS))
        if old is not None:
            rows[:self.n] = old[:self.n]
        flags, ones, buf = np.zeros(cap, dtype=bool), np.ones(cap), np.empty(cap)
        sizes = range(cap + 1)
        self.lives = [rows[:k] for k in sizes]
        self.yvs = [rows[:k, Y] for k in sizes]
        self.svs = [rows[:k, SCALE] for k in sizes]
        self.bvs, self.ones, self.pvs = [flags[:k] for k in sizes], [ones[:k] for k in sizes], [buf[:k] for k in sizes]
        self._gammas.clear()

    def set_assigned(self, ids: np.ndarray, arrival_s: np.ndarray) -> None:
        """Round robin: the requests routed here up front, in arrival order."""
        self.assigned_l, self.assigned_s_l = ids.tolist(), arrival_s.tolist()
        self.next_s = self.assigned_s_l[0] if self.assigned_s_l else math.inf

    @property
    def outstanding(self) -> int:
        return len(self.waiting) + self.n + len(self.prefill_q) + len(self.prefilling)

    # ------------------------------------------------------------ acceptance

    def refresh_acceptance(self, changed: list[int] | None = None) -> None:
        """Per-domain α (and E[tokens | γ] for the goodput policy) for the draft's current state;
        ``changed``: the only domains whose records trained on changed (None: all)."""
        cl = self.cl
        if cl.acceptance is None:
            self.alpha_l = self.scale_l = [0.0] * cl.num_domains
            return
        names, model = cl.domains, cl.acceptance
        if changed is None:
            self.alpha_l = [model.expected_alpha(d, n) for d, n in zip(names, self.n_trained)]
            # accepted = floor(E / −ln α), E ~ Exp(1), capped at γ, is Geometric: P(≥ k) = α^k.
            self.scale_l = [_geometric_scale(a) for a in self.alpha_l]
            self._per_domain = np.array((self.scale_l, self.alpha_l))
        else:  # α is a function of (domain, records trained on): the others stay as they are
            alpha_l, scale_l, per_domain = self.alpha_l, self.scale_l, self._per_domain
            for d in changed:
                alpha_l[d] = a = model.expected_alpha(names[d], self.n_trained[d])
                scale_l[d] = per_domain[0, d] = _geometric_scale(a)
                per_domain[1, d] = a
        n = self.n
        if n:
            if cl.num_domains == 1:
                self.svs[n][:] = self.scale_l[0]
                self.alpha_sum = self.alpha_l[0] * n
            else:
                per_row = self._per_domain.take(self.lives[n][:, DOM].astype(np.intp), axis=1)
                self.svs[n][:] = per_row[0]
                self.alpha_sum = float(np.add.reduce(per_row[1]))  # = np.asarray(alpha_l)[dom].sum()
        if cl.gamma_policy == "goodput":
            grid = range(cl.max_gamma + 1)
            self.etok = np.array([[model.expected_tokens(g, d, n) for d, n in zip(names, self.n_trained)]
                                  for g in grid])
            self.gamma_memo: dict = {}

    def table(self, gamma: int) -> np.ndarray:
        """What a step with ``k`` accepted drafts adds to Y: K·(k + 1) + [k < γ], k = 0..γ."""
        t = self._tables.get(gamma)
        if t is None:
            k = np.arange(gamma + 1, dtype=float)
            t = self._tables[gamma] = self.cl.pack * (k + 1.0) + (k < gamma)
        return t

    def gamma_columns(self, gamma: int) -> list[np.ndarray]:
        """``[k]``: k copies of γ (float)."""
        g = self._gammas.get(gamma)
        if g is None:
            full = np.full(len(self.pvs) - 1, float(gamma))
            g = self._gammas[gamma] = [full[:k] for k in range(len(full) + 1)]
        return g

    def sample(self, gamma: int, size: int) -> np.ndarray:
        """Accepted drafts per sequence of the running batch (intp, 0..gamma)."""
        cl = self.cl
        if cl.iid:
            pos = self._pos
            if pos + size > len(self._exp):
                self._exp, pos = self.rng.standard_exponential(max(EXP_BLOCK, size)), 0
            self._pos = pos + size
            x = np.multiply(self._exp[pos:pos + size], self.svs[size], out=self.pvs[size])
            # min(floor(x), γ) = floor(min(x, γ)) for x ≥ 0; the cast truncates, i.e. floors.
            np.minimum(x, self.gamma_columns(gamma)[size], out=x)
            return x.astype(np.intp)
        if cl.num_domains == 1:
            return np.asarray(cl.acceptance.sample_many(self.rng, gamma, size, cl.domains[0], self.n_trained[0]),
                              dtype=np.intp)
        acc = np.empty(size, dtype=np.intp)
        dom = self.dom
        for d in np.unique(dom):
            mask = dom == d
            acc[mask] = cl.acceptance.sample_many(self.rng, gamma, int(mask.sum()), cl.domains[d],
                                                  self.n_trained[d])
        return acc

    def choose_gamma(self, batch: int, ctx: float) -> int:
        """SmartSpec-style: the γ maximising expected emitted tokens per second for this batch."""
        cl = self.cl
        if cl.gamma_policy != "goodput":
            return cl.gamma_policy
        single = cl.num_domains == 1
        key = (batch, int(ctx / cl.pricer.bucket + 0.5))
        if single and key in self.gamma_memo:
            return self.gamma_memo[key]
        etok = self.etok[:, 0] if single else self.etok @ (np.bincount(self.dom, minlength=cl.num_domains) / batch)
        price = cl.pricer.step
        rates = [etok[g] / price(batch, g, ctx)[0] for g in range(cl.max_gamma + 1)]
        best = int(np.argmax(rates))
        if single:
            self.gamma_memo[key] = best
        return best

    # ------------------------------------------------------------ queue and batch

    def take_chunk(self, budget: int) -> tuple[list[int], int, int]:
        """Up to ``budget`` prompt tokens from the front of the prefill queue (chunked prefill).

        Returns the requests whose prompt completes (they emit their first token when the
        iteration ends), the prompt tokens taken, and how many requests they came from.
        """
        done, taken, seqs, queue = [], 0, 0, self.prefill_q
        while queue and taken < budget:
            entry = queue[0]
            take = min(budget - taken, entry[1])
            entry[1] -= take
            taken += take
            seqs += 1
            if entry[1] <= 0:
                done.append(entry[0])
                queue.popleft()
        return done, taken, seqs

    def live(self) -> dict[str, np.ndarray]:
        """Per-sequence counts of the running batch: ids, tokens still to emit, steps run,
        accepted drafts and steps that ended in a rejection."""
        live, pack = self.lives[self.n], self.cl.pack
        ids = live[:, ID].astype(np.int64)
        over = np.floor(live[:, Y] / pack)  # = −remaining
        steps = self.counter - live[:, START]
        return {"ids": ids, "remaining": -over, "steps": steps,
                "accepted": self.cl.output[ids] - 1.0 + over - steps, "rejected": live[:, Y] - pack * over}

    @property
    def dom(self) -> np.ndarray:
        return self.rows[:self.n, DOM].astype(np.int64)

    # ------------------------------------------------------------ online updates

    def start_update(self, now: float) -> dist.Update | None:
        if self.update is not None:
            return None
        for d in self.distillers:
            if d.due:
                seconds, flops = self.cl.pricer.update(d.buffer_tokens)
                self.update = d.start(now, seconds, flops)
                return self.update
        return None

    def finish_update(self, now: float) -> None:
        u, self.update = self.update, None
        changed = [d for d, r in enumerate(u.records) if r]
        for d in changed:
            self.n_trained[d] += u.records[d]
        self.refresh_acceptance(changed)
        self.cl.update_rows.append((self.index, u.distiller.name, u.start_s, now, now - u.start_s,
                                    u.min_end_s - u.start_s, u.num_tokens, sum(u.records), u.flops,
                                    u.stall_s, self.cl.online.mode, sum(self.alpha_l) / len(self.alpha_l)))


def _geometric_scale(alpha: float) -> float:
    if alpha <= 0.0:
        return 0.0
    if alpha >= 1.0:
        return 1e300
    return -1.0 / math.log(alpha)
