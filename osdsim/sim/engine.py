"""The replica engine: iteration-level continuous batching with speculative steps (SimPy).

One ``replica`` process per replica. Each iteration either prefills newly admitted requests
(vLLM V0 style: waiting prompts go first, within ``max_batch`` and the KV-cache capacity, which
reserves prompt + output tokens per request so nothing is ever preempted) or runs one
speculative step for the whole running batch. Events are per iteration and per arrival, never
per token; per-sequence work in a step is a handful of numpy operations on float64 arrays.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from osdsim.sim import distiller as dist

_EMPTY = np.zeros(0)


class Replica:
    """State of one replica: its queue, its running batch (parallel arrays) and its drafts."""

    def __init__(self, index: int, cluster, rng: np.random.Generator):
        self.index, self.cl, self.rng = index, cluster, rng
        self.waiting: deque[int] = deque()
        self.assigned = np.zeros(0, dtype=np.int64)  # round robin: this replica's requests
        self.assigned_s = _EMPTY  # and their arrival times
        self.pulled = 0
        self.wake = None  # least_outstanding: event the dispatcher triggers
        self.kv_used = 0.0
        # Running batch, one entry per sequence.
        self.ids = np.zeros(0, dtype=np.int64)
        self.remaining = _EMPTY  # tokens still to emit
        self.dom = np.zeros(0, dtype=np.int64)
        self.acc = _EMPTY  # accepted drafts so far
        self.rej = _EMPTY  # rejected steps so far (a step with accepted < γ)
        self.steps = _EMPTY
        self.ctx_sum = 0.0  # Σ context over the batch (prompt + emitted)
        self.prefilling = np.zeros(0, dtype=np.int64)  # admitted, prefill in flight
        # Online distillation: per-domain records trained on, and one distiller per draft.
        self.n_trained = np.zeros(cluster.num_domains)
        self.distillers: list[dist.Distiller] = []
        self.update: dist.Update | None = None
        self.refresh_acceptance()

    @property
    def outstanding(self) -> int:
        return len(self.waiting) + len(self.ids) + len(self.prefilling)

    # ------------------------------------------------------------ acceptance

    def refresh_acceptance(self) -> None:
        """Per-domain α and E[tokens | γ] tables for the draft's current training state."""
        cl = self.cl
        if cl.acceptance is None:
            self.alpha_tab = np.zeros(cl.num_domains)
            return
        names = cl.domains
        self.alpha_tab = np.array([cl.acceptance.expected_alpha(d, n) for d, n in zip(names, self.n_trained)])
        with np.errstate(divide="ignore"):
            log_alpha = np.log(self.alpha_tab)
        # accepted = floor(ln(1 − U) / ln α), capped at γ, is Geometric: P(≥ k) = α^k.
        self.inv_log_alpha = np.where(log_alpha < 0, 1.0 / np.minimum(log_alpha, -1e-300), -1e300)
        self.alpha_scalar = float(self.alpha_tab[0])
        self.inv_scalar = float(self.inv_log_alpha[0])
        if cl.gamma_policy == "goodput":
            grid = range(cl.max_gamma + 1)
            self.etok = np.array([[cl.acceptance.expected_tokens(g, d, n) for d, n in zip(names, self.n_trained)]
                                  for g in grid])
            self.gamma_memo: dict = {}

    def sample(self, gamma: int, size: int) -> np.ndarray:
        """Accepted drafts per sequence of the running batch (float64, 0..gamma)."""
        cl = self.cl
        if cl.iid:
            u = np.log1p(-self.rng.random(size))
            acc = np.floor(u * (self.inv_scalar if cl.num_domains == 1 else self.inv_log_alpha[self.dom]))
            return np.minimum(acc, gamma, out=acc)
        model, names = cl.acceptance, cl.domains
        if cl.num_domains == 1:
            return model.sample_many(self.rng, gamma, size, names[0], self.n_trained[0]).astype(float)
        acc = np.empty(size)
        for d in np.unique(self.dom):
            mask = self.dom == d
            acc[mask] = model.sample_many(self.rng, gamma, int(mask.sum()), names[d], self.n_trained[d])
        return acc

    def batch_alpha(self) -> float:
        if self.cl.num_domains == 1:
            return self.alpha_scalar
        return float(self.alpha_tab[self.dom].mean())

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

    def pull_arrivals(self, now: float) -> None:
        j = int(np.searchsorted(self.assigned_s, now, side="right"))
        if j > self.pulled:
            self.waiting.extend(self.assigned[self.pulled:j].tolist())
            self.pulled = j

    def next_arrival_s(self) -> float:
        return float(self.assigned_s[self.pulled]) if self.pulled < len(self.assigned_s) else math.inf

    def admit(self) -> list[int]:
        """FIFO admission within max_batch and KV capacity; a request that can never fit is dropped."""
        cl, out = self.cl, []
        room = cl.max_batch - len(self.ids)
        while self.waiting and len(out) < room:
            i = self.waiting[0]
            need = cl.kv_need[i]
            if need > cl.kv_capacity:
                self.waiting.popleft()
                cl.rejected[i] = True
                continue
            if self.kv_used + need > cl.kv_capacity:
                break
            self.waiting.popleft()
            self.kv_used += need
            out.append(i)
        return out

    def join(self, ids: np.ndarray, now: float) -> None:
        """Prefilled requests emit their first token and join the running batch."""
        cl = self.cl
        cl.first_token_s[ids] = now
        remaining = cl.output[ids] - 1.0
        self.ctx_sum += float(cl.prompt[ids].sum()) + len(ids)
        self.ids = np.concatenate((self.ids, ids))
        self.remaining = np.concatenate((self.remaining, remaining))
        self.dom = np.concatenate((self.dom, cl.domain[ids]))
        zeros = np.zeros(len(ids))
        self.acc = np.concatenate((self.acc, zeros))
        self.rej = np.concatenate((self.rej, zeros))
        self.steps = np.concatenate((self.steps, zeros))

    def retire(self, now: float) -> None:
        """Record and remove sequences that have emitted all their tokens."""
        cl = self.cl
        done = self.remaining <= 0.0
        ids = self.ids[done]
        cl.finish_s[ids] = now
        cl.steps[ids] = self.steps[done]
        cl.accepted[ids] = self.acc[done]
        cl.rejected_steps[ids] = self.rej[done]
        freed = float(cl.kv_need[ids].sum())
        self.kv_used -= freed
        self.ctx_sum -= freed
        keep = ~done
        self.ids, self.remaining, self.dom = self.ids[keep], self.remaining[keep], self.dom[keep]
        self.acc, self.rej, self.steps = self.acc[keep], self.rej[keep], self.steps[keep]
        if self.distillers:
            per_domain = np.bincount(cl.domain[ids], minlength=cl.num_domains)
            for d in self.distillers:
                d.add_records(per_domain)

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
        self.n_trained += u.records
        self.refresh_acceptance()
        self.cl.update_rows.append((self.index, u.distiller.name, u.start_s, now, now - u.start_s,
                                    u.min_end_s - u.start_s, u.num_tokens, int(u.records.sum()), u.flops,
                                    u.stall_s, self.cl.online.mode, float(self.batch_alpha_all())))

    def batch_alpha_all(self) -> float:
        return float(self.alpha_tab.mean())


def replica(env, rep: Replica):
    """The serving loop of one replica: admit → prefill, or one speculative step; repeat."""
    cl = rep.cl
    online, pricer, rows = cl.online, cl.pricer, cl.step_rows
    capacity = pricer.capacity
    spare_mode = online is not None and online.mode == "spare"
    interference = online.interference if online is not None else 0.0
    idx, spec = rep.index, cl.acceptance is not None
    while True:
        now = env.now
        rep.pull_arrivals(now)
        if online is not None and rep.update is None:
            update = rep.start_update(now)
            if update is not None and not spare_mode:
                yield env.timeout(update.min_end_s - now)
                update.flops_left = 0.0
                rep.finish_update(env.now)
                continue
        admitted = rep.admit()
        if admitted:
            ids = np.asarray(admitted, dtype=np.int64)
            rep.prefilling = ids
            seconds, flops = pricer.prefill(len(ids), float(cl.prompt[ids].mean()))
            stall = 0.0
            if rep.update is not None:
                seconds, stall = dist.charge_step(rep.update, now, seconds, flops, capacity, interference)
            waiting = len(rep.waiting)
            yield env.timeout(seconds)
            rep.prefilling = np.zeros(0, dtype=np.int64)
            rep.join(ids, env.now)
            rows.append((now, idx, "prefill", len(ids), waiting, 0, len(ids), 0.0, seconds, flops,
                         max(0.0, capacity * seconds - flops), math.nan, stall, rep.update is not None))
            if np.count_nonzero(rep.remaining) < len(rep.remaining):
                rep.retire(env.now)
            _maybe_finish_update(rep, env.now)
            continue
        batch = len(rep.ids)
        if batch == 0:
            wait = yield from _idle(env, rep)
            if not wait:
                return
            continue
        ctx = rep.ctx_sum / batch
        gamma = rep.choose_gamma(batch, ctx) if spec else 0
        seconds, flops = pricer.step(batch, gamma, ctx)
        stall = 0.0
        if rep.update is not None:
            seconds, stall = dist.charge_step(rep.update, now, seconds, flops, capacity, interference)
        if gamma:
            acc = rep.sample(gamma, batch)
            emitted = np.minimum(acc + 1.0, rep.remaining)
            rejected = acc < gamma
            rep.acc += acc
            rep.rej += rejected
            accepted = float(acc.sum())
            if online is not None:
                mismatches = int(np.count_nonzero(rejected))
                if len(rep.distillers) == 1:
                    rep.distillers[0].add_mismatches(mismatches)
                else:
                    by_dom = np.bincount(rep.dom[rejected], minlength=cl.num_domains)
                    for d in rep.distillers:
                        d.add_mismatches(int(by_dom[d.serves].sum()))
            alpha = rep.batch_alpha()
        else:
            emitted = np.minimum(1.0, rep.remaining)
            accepted, alpha = 0.0, math.nan
        rep.remaining -= emitted
        rep.steps += 1.0
        tokens = float(emitted.sum())
        rep.ctx_sum += tokens
        waiting = len(rep.waiting)
        yield env.timeout(seconds)
        rows.append((now, idx, "decode", batch, waiting, gamma, tokens, accepted, seconds, flops,
                     max(0.0, capacity * seconds - flops), alpha, stall, rep.update is not None))
        if np.count_nonzero(rep.remaining) < batch:
            rep.retire(env.now)
        if rep.update is not None:
            _maybe_finish_update(rep, env.now)


def _maybe_finish_update(rep: Replica, now: float) -> None:
    if rep.update is not None and dist.done(rep.update, now):
        rep.finish_update(now)


def _idle(env, rep: Replica):
    """Wait for work (an arrival) or for a spare-mode update to finish; False when none can come."""
    cl, now = rep.cl, env.now
    capacity = cl.pricer.capacity
    until = rep.next_arrival_s()
    if rep.update is not None:
        until = min(until, dist.idle_finish_s(rep.update, now, capacity))
    if cl.dispatched:
        rep.wake = env.event()
        events = [rep.wake] if math.isinf(until) else [rep.wake, env.timeout(until - now)]
        if math.isinf(until) and cl.dispatch_done:
            return False
        yield env.any_of(events)
        rep.wake = None
    else:
        if math.isinf(until):
            return False
        yield env.timeout(until - now)
    if rep.update is not None:
        dist.charge_idle(rep.update, env.now - now, capacity)
        _maybe_finish_update(rep, env.now)
    return True


def dispatcher(env, cl, replicas: list[Replica]):
    """Least-outstanding router: each arrival goes to the replica with the fewest requests in it."""
    arrival = cl.arrival
    for i in range(len(arrival)):
        delay = arrival[i] - env.now
        if delay > 0:
            yield env.timeout(delay)
        rep = min(replicas, key=lambda r: (r.outstanding, r.index))
        rep.waiting.append(i)
        cl.replica[i] = rep.index
        if rep.wake is not None and not rep.wake.triggered:
            rep.wake.succeed()
    cl.dispatch_done = True
    for rep in replicas:  # let idle replicas notice that no more work will come
        if rep.wake is not None and not rep.wake.triggered:
            rep.wake.succeed()
