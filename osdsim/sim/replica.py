"""One replica: its queue, KV-cache use, running batch, acceptance and online updates, and the
engine's stages as methods (``serve`` in :mod:`osdsim.sim.loop` calls them in order):

1. ``admit`` — waiting requests join (the admission policy);
2. ``build`` — the iteration: a prefill, a speculative step of the running batch, or both
   fused (the prefill policy), and the step's γ (the γ policy);
3. ``price`` — its seconds and FLOPs (:class:`osdsim.sim.pricing.Pricer`), and what an update
   running in spare compute adds (:mod:`osdsim.sim.distiller`);
4. ``draw`` — accepted drafts per sequence (:mod:`osdsim.sim.draws`);
5. ``apply`` — every sequence advances; prefilled requests join the batch;
6. ``retire`` — finished requests leave, their records go to the distiller;
7. ``charge_distiller`` — mismatched positions into the buffer; an update starts or finishes.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from osdsim.sim.batch import DOM, RunningBatch
from osdsim.sim.distiller import DISTILLER_MODES, Update, done
from osdsim.sim.draws import IidDraws, ModelDraws
from osdsim.sim.policies import ADMISSIONS, gamma_policy, prefill_policy
from osdsim.sim.proposer import Proposer
from osdsim.sim.replica_online import OnlineReplica


class Iteration:
    """The iteration in flight: what it prefills, the running batch's step, its price."""

    __slots__ = ("batch", "gamma", "joining", "prefill_seqs", "prompt_tokens", "seconds", "flops",
                 "stall", "updating", "in_system", "drafts")


class Replica(OnlineReplica):
    """State of one replica and the stages that change it (see the module docstring)."""

    __slots__ = ("cl", "index", "rng", "waiting", "assigned_l", "assigned_s_l", "pulled", "next_s", "clients",
                 "wake", "kv_used", "dropped", "batch", "ctx_sum", "alpha_sum", "counter", "prefilling", "admission",
                 "prefill", "gamma", "speculative", "n_trained", "draws", "distillers", "due", "mode", "update", "it",
                 "alpha_l", "scale_l", "_per_domain", "pricer", "single", "log_step", "proposer", "__weakref__")

    def __init__(self, index: int, cluster, rng: np.random.Generator):
        cl = self.cl = cluster
        self.index, self.rng = index, rng
        self.pricer, self.single, self.log_step = cl.pricer, cl.num_domains == 1, cl.step_rows.fromlist
        self.waiting: deque[int] = deque()
        self.assigned_l: list[int] = []  # round robin: this replica's requests
        self.assigned_s_l: list[float] = []  # and their arrival times
        self.pulled, self.next_s = 0, math.inf
        self.clients: deque[int] | None = None  # closed loop: requests still to send, in order
        self.wake = None  # least_outstanding: event the dispatcher triggers
        self.kv_used = 0.0
        self.dropped = 0  # requests admission dropped (they can never fit) since the last build
        self.batch = RunningBatch(min(cl.max_batch, 256))
        self.ctx_sum = 0.0  # Σ context over the batch (prompt + emitted)
        self.alpha_sum = 0.0  # Σ expected α over the batch
        self.counter = 0  # decode steps run so far
        self.prefilling: list[int] = []  # requests whose prefill completes in the iteration in flight
        self.admission = ADMISSIONS["fifo"](cl)
        self.prefill = prefill_policy(cl.prefill_chunk, cl.prompt_l)
        self.gamma = gamma_policy(cl.gamma_policy, cl.max_gamma, cl.scenario.gamma_policy)
        self.speculative = cl.acceptance is not None
        self.proposer = Proposer(self, cl.pricer.draft, cl.scenario.gamma_policy)
        self.n_trained = [0.0] * cl.num_domains  # records each domain's draft was trained on
        self.draws = IidDraws(rng) if cl.iid else ModelDraws(rng, cl.acceptance, cl.domains, self.n_trained)
        self.distillers: list = []
        self.due = False  # some distiller has served its update_interval records
        self.mode = None if cl.online is None else DISTILLER_MODES[cl.online.mode](
            cl.online.interference, cl.pricer.capacity)
        self.update: Update | None = None
        self.it = Iteration()
        self.refresh_acceptance()

    def set_assigned(self, ids: np.ndarray, arrival_s: np.ndarray) -> None:
        """Round robin: the requests routed here up front, in arrival order."""
        self.assigned_l, self.assigned_s_l = ids.tolist(), arrival_s.tolist()
        self.next_s = self.assigned_s_l[0] if self.assigned_s_l else math.inf

    def set_clients(self, ids: np.ndarray, clients: int) -> None:
        """Closed loop: ``clients`` requests arrive at time 0, each later one when a request of
        this replica finishes (plus the workload's think time)."""
        first = ids[:clients]
        self.cl.arrival[first] = 0.0
        self.set_assigned(first, self.cl.arrival[first])
        self.clients = deque(ids[clients:].tolist())

    def release_clients(self, count: int, now: float) -> None:
        """Closed loop: ``count`` clients got their answers at ``now``; their next requests come."""
        t = now + self.cl.scenario.workload.think_s
        for _ in range(min(count, len(self.clients))):
            i = self.clients.popleft()
            self.cl.arrival[i] = t
            self.assigned_l.append(i)
            self.assigned_s_l.append(t)
        if self.next_s > t and self.pulled < len(self.assigned_s_l):
            self.next_s = self.assigned_s_l[self.pulled]

    def pull_arrivals(self, now: float) -> None:
        """Round robin: this replica's arrivals up to ``now`` (>= ``next_s``) join its queue."""
        times, pulled, end = self.assigned_s_l, self.pulled, len(self.assigned_s_l)
        while pulled < end and times[pulled] <= now:
            self.waiting.append(self.assigned_l[pulled])
            pulled += 1
        self.pulled = pulled
        self.next_s = times[pulled] if pulled < end else math.inf

    @property
    def outstanding(self) -> int:
        return len(self.waiting) + self.batch.n + len(self.prefill.queue) + len(self.prefilling)

    def domains_running(self) -> np.ndarray:
        return self.batch.matrix[:self.batch.n, DOM].astype(np.int64)

    # ------------------------------------------------------------ stages 1-3: the next iteration

    def build(self, now: float):
        """Stages 1-2: admit, then the iteration to run (None: nothing to do)."""
        admitted, prompts = self.admission.admit(self) if self.waiting else ((), 0)
        if self.clients is not None and self.dropped:  # a dropped request answers its client at once
            self.release_clients(self.dropped, now)
            self.dropped = 0
        prefill = self.prefill
        joining, prefill_seqs, prompt_tokens = prefill.plan(admitted, prompts)
        batch = self.batch.n if prefill.fused or not joining else 0  # whole prefills run alone
        if batch == 0 and not prefill_seqs:
            return None
        it = self.it
        it.batch, it.joining, it.prefill_seqs, it.prompt_tokens = batch, joining, prefill_seqs, prompt_tokens
        it.drafts = None
        if batch and self.speculative:
            gamma = self.gamma.fixed
            it.gamma = gamma if gamma is not None else self.gamma.choose(self, batch)
            if self.proposer.tree is not None:
                it.gamma = self.proposer.depth  # a tree's drafts: its nodes; its longest path: depth
            elif self.proposer.per_sequence:
                it.drafts = self.proposer.plan(self, batch, it.gamma)
        else:
            it.gamma = 0
        self.prefilling = joining
        return it

    def price(self, it: Iteration, now: float) -> float:
        """Stage 3: the iteration's seconds (and FLOPs), an update in spare compute included."""
        pricer, batch = self.pricer, it.batch
        if it.drafts is not None and not it.prefill_seqs:
            seconds, flops = pricer.step_each(batch, *it.drafts, self.ctx_sum / batch)
        elif not it.prefill_seqs:
            seconds, flops = pricer.step(batch, it.gamma, self.ctx_sum / batch)
        elif batch:
            seconds, flops = pricer.mixed(batch, it.gamma, self.ctx_sum / batch, it.prefill_seqs,
                                          it.prompt_tokens)
        else:
            seconds, flops = pricer.prefill(it.prefill_seqs, it.prompt_tokens / it.prefill_seqs)
        it.stall, it.updating = 0.0, self.update is not None
        if it.updating:
            seconds, it.stall = self.mode.charge_step(self.update, now, seconds, flops)
        it.seconds, it.flops = seconds, flops
        it.in_system = self.batch.n + len(self.waiting) + len(self.prefill.queue) + len(it.joining)
        if not seconds < math.inf:
            raise ValueError(f"the cost model priced an iteration at {seconds} seconds "
                             f"(batch {batch}, gamma {it.gamma}, {it.prefill_seqs} prefills)")
        return seconds

    # ------------------------------------------------------------ stages 4-7: its outcome

    def finish(self, it: Iteration, start: float, now: float) -> None:
        """Stages 4-7 once the iteration that began at ``start`` has run until ``now``."""
        accepted, alpha, first, check = 0.0, math.nan, 0, False
        if it.batch:
            accepted, alpha = self.draw_and_apply(it.batch, it.gamma, it.drafts)
            check = True
        if it.joining:
            first, finished_at_once = self.join(it.joining, now)
            check = check or finished_at_once
        overshoot = self.retire(now) if check else 0.0
        tokens = accepted + it.batch - overshoot  # Σ min(1 + accepted, remaining): exact integers
        self.ctx_sum += tokens
        self.log_step([start, self.index, it.batch, it.prefill_seqs, it.prompt_tokens, it.in_system,
                                    it.gamma, tokens + first, first, accepted, it.seconds, it.flops, alpha,
                                    it.stall, it.updating])
        if it.updating and done(self.update, now):
            self.finish_update(now)

    def draw_and_apply(self, batch: int, gamma: int, drafts=None) -> tuple[float, float]:
        """Stages 4-5 for the running batch: accepted drafts per sequence, every sequence
        advanced; returns the accepted drafts in all and the batch's expected α (NaN at γ 0).
        ``drafts``: (drafts, draft forwards) per sequence when they differ (``Proposer``)."""
        self.counter += 1
        if not gamma:
            self.batch.advance_plain()
            return 0.0, math.nan
        if drafts is not None:
            each = drafts[0]
            acc = self.proposer.accepted_each(self, batch, gamma, each)
            drawn, rejected = self.batch.advance_each(acc, each)
            if self.gamma.per_sequence:
                self.gamma.after(self, batch, acc, each)
        elif self.proposer.tree is not None:
            acc = self.proposer.accepted_tree(self, batch)
            drawn, rejected = self.batch.advance(acc, gamma)
        else:
            acc = self.draws.accepted(batch, self.batch.views[batch], gamma)
            drawn, rejected = self.batch.advance(acc, gamma)
        if self.distillers:
            self.buffer_mismatches(acc, gamma, rejected)
        alpha = self.alpha_l[0] if self.single else self.alpha_sum / batch
        return drawn - batch, alpha

    def join(self, joining: list[int], now: float) -> tuple[int, bool]:
        """Prefilled requests emit their first token and join the running batch; returns how
        many joined and whether one of them has nothing more to emit."""
        cl, b = self.cl, self.batch
        self.prefilling = []
        cl.first_token_log.append((now, joining))
        if b.n + len(joining) > b.capacity:  # more room (max_batch bounds the batch)
            b.grow(min(cl.max_batch, 2 * (b.n + len(joining))))
        drawn0, domain, prompt, alpha_l, scale_l = cl.drawn0_l, cl.domain_l, cl.prompt_l, self.alpha_l, self.scale_l
        prompts, alphas, finished = 0, 0, False
        rows, n, counter, start_gamma = b.matrix, b.n, self.counter, self.gamma.start
        for i in joining:
            d, y = domain[i], drawn0[i]
            rows[n] = (y, 0.0, scale_l[d], counter, i, d, start_gamma)  # DRAWN ... DOM, GAMMA
            n += 1
            prompts += prompt[i]
            alphas += alpha_l[d]
            finished = finished or y >= 0.0  # a one-token output: done already
        b.n = n
        first = len(joining)
        self.alpha_sum += alpha_l[0] * first if self.single else alphas
        self.ctx_sum += prompts + first
        return first, finished

    def retire(self, now: float) -> float:
        """Stage 6: finished sequences (if any) leave (their KV is freed, their records counted
        for the distillers); returns the tokens their last step drew beyond their outputs."""
        done_rows = self.batch.retire_finished()
        if done_rows is None:
            return 0.0
        cl = self.cl
        cl.finish_log.append((now, self.counter, done_rows))
        kv_need, alpha_l = cl.kv_need_l, self.alpha_l
        overshoot, freed, alphas, doms = 0.0, 0, 0, []
        for drawn, _, _, _, i, d, _ in done_rows.tolist():
            d = int(d)
            doms.append(d)
            overshoot += drawn
            freed += kv_need[int(i)]
            alphas += alpha_l[d]
        if self.distillers:
            for distiller in self.distillers:
                distiller.add_records(doms)
            self.due = self.update_due()
        self.kv_used -= freed
        self.ctx_sum -= freed
        self.alpha_sum -= alphas
        if self.clients is not None:
            self.release_clients(len(doms), now)
        return overshoot

    def live(self) -> dict[str, np.ndarray]:
        """Per-sequence counts of the running batch (:meth:`RunningBatch.live`)."""
        return self.batch.live(self.counter, self.cl.output)
