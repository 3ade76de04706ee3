"""The acceptance and online-update side of a replica (stage 7 of the engine, and what an update
changes): per-domain α and Geometric scales of the draft as it is now, mismatched positions into
the distillers' buffers, and draft updates starting and finishing (:mod:`osdsim.sim.distiller`
holds the buffers and the spare/exclusive accounting)."""

from __future__ import annotations

import numpy as np

from osdsim.acceptance import geometric_scale
from osdsim.sim.distiller import Update
from osdsim.sim.draws import SAFE_SCALE


class OnlineReplica:
    """Mixed into :class:`osdsim.sim.replica.Replica` (which holds the state)."""

    __slots__ = ()

    def refresh_acceptance(self, changed: list[int] | None = None) -> None:
        """Per-domain α and Geometric scale for the draft as it is now; ``changed``: the only
        domains whose records trained on changed (None: all)."""
        cl = self.cl
        if cl.acceptance is None:
            self.alpha_l = self.scale_l = [0.0] * cl.num_domains
            return
        names, model = cl.domains, cl.acceptance
        if changed is None:
            self.alpha_l = [model.expected_alpha(d, n) for d, n in zip(names, self.n_trained)]
            self.scale_l = [geometric_scale(a) for a in self.alpha_l]
            self._per_domain = np.array((self.scale_l, self.alpha_l))
        else:  # α is a function of (domain, records trained on): the others stay as they are
            for d in changed:
                self.alpha_l[d] = a = model.expected_alpha(names[d], self.n_trained[d])
                self.scale_l[d] = self._per_domain[0, d] = geometric_scale(a)
                self._per_domain[1, d] = a
        self.draws.cap_first = max(self.scale_l) > SAFE_SCALE
        n = self.batch.n
        if n:
            scale = self.batch.views[n].scale
            if cl.num_domains == 1:
                scale[:] = self.scale_l[0]
                self.alpha_sum = self.alpha_l[0] * n
            else:
                per_row = self._per_domain.take(self.domains_running().astype(np.intp), axis=1)
                scale[:] = per_row[0]
                self.alpha_sum = float(np.add.reduce(per_row[1]))  # = np.asarray(alpha_l)[dom].sum()
        self.gamma.refresh(self)
        self.proposer.refresh(self.alpha_l)

    def buffer_mismatches(self, accepted: np.ndarray, gamma: int, rejected: float) -> None:
        """One mismatched position per sequence whose step ended in a rejection."""
        if len(self.distillers) == 1:
            self.distillers[0].add_mismatches(int(rejected))
            return
        by_dom = np.bincount(self.domains_running()[accepted < gamma], minlength=self.cl.num_domains)
        for d in self.distillers:
            d.add_mismatches(int(by_dom[d.serves].sum()))

    def update_due(self) -> bool:
        if len(self.distillers) == 1:
            d = self.distillers[0]
            return d.pending >= d.interval
        return any(d.pending >= d.interval for d in self.distillers)

    def start_update(self, now: float) -> Update:
        for d in self.distillers:
            if d.due:
                seconds, flops = self.cl.pricer.update(d.buffer_tokens)
                self.update = d.start(now, seconds, flops)
                self.due = self.update_due()
                return self.update
        raise RuntimeError("start_update called with no draft due")

    def finish_update(self, now: float) -> None:
        u, self.update = self.update, None
        changed = [d for d, r in enumerate(u.records) if r]
        for d in changed:
            self.n_trained[d] += u.records[d]
        self.refresh_acceptance(changed)
        self.cl.update_rows.append((self.index, u.distiller.name, u.start_s, now, now - u.start_s,
                                    u.min_end_s - u.start_s, u.num_tokens, sum(u.records), u.flops,
                                    u.stall_s, self.mode.name, sum(self.alpha_l) / len(self.alpha_l)))
