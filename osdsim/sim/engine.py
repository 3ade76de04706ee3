"""The replica engine: iteration-level continuous batching with speculative steps (SimPy).

One ``replica`` process per replica. Waiting requests are admitted first-come first-served
within ``max_batch`` and the KV-cache capacity, which reserves prompt + output tokens per request
so nothing is ever preempted. Then one iteration runs:

- without ``prefill_chunk`` (vLLM V0): newly admitted prompts are prefilled in an iteration of
  their own (their first token comes out at its end); otherwise the running batch takes one
  speculative step;
- with ``prefill_chunk`` = C (chunked prefill, Sarathi-Serve / vLLM V1): up to C prompt tokens
  ride along with the running batch's speculative step in one fused iteration.

A speculative step emits min(1 + accepted, remaining) tokens per sequence; γ = 0 is plain
decoding. Events are per iteration and per arrival, never per token; per-sequence work in an
iteration is a handful of numpy operations on the columns of a float64 state matrix.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from osdsim.sim import distiller as dist

_EMPTY = np.zeros(0)
_sum = np.add.reduce  # ndarray.sum goes through two Python layers; this is the ufunc itself


# Rows of a replica's running-batch state matrix (one column per sequence, float64).
REMAINING, ACCEPTED, REJECTED, START, SCALE, ID, DOM = range(7)
ROWS = 7
EXP_BLOCK = 1 << 16  # standard exponentials drawn per refill of the sampling buffer


class Replica:
    """State of one replica: its queue, its running batch (columns of ``state``) and its drafts.

    ``state`` rows: tokens still to emit, accepted drafts so far, steps with a rejection so far,
    the replica's step counter when the sequence joined, 1/−ln α of its domain (the scale that
    turns an Exp(1) draw into a Geometric accepted count), request id, domain index.
    """

    def __init__(self, index: int, cluster, rng: np.random.Generator):
        self.index, self.cl, self.rng = index, cluster, rng
        self.waiting: deque[int] = deque()
        self.assigned_l: list[int] = []  # round robin: this replica's requests
        self.assigned_s_l: list[float] = []  # and their arrival times
        self.pulled, self.next_s = 0, math.inf
        self.wake = None  # least_outstanding: event the dispatcher triggers
        self.kv_used = 0.0
        self.state = np.zeros((ROWS, 0))
        self.remaining = self.state[REMAINING]
        self.ctx_sum = 0.0  # Σ context over the batch (prompt + emitted)
        self.alpha_sum = 0.0  # Σ expected α over the batch
        self.counter = 0  # decode steps run so far
        self.prefilling: list[int] = []  # requests whose prefill completes in the iteration in flight
        self.prefill_q: deque[list[int]] = deque()  # chunked prefill: [request, prompt tokens left]
        self._exp, self._pos = _EMPTY, 0
        # Row 0: this step's accepted drafts per sequence; row 1: 1.0 where the step ended in a
        # rejection. One buffer so that both accumulate into the state in one operation.
        self._pair = np.empty((2, cluster.max_batch))
        # Online distillation: per-domain records trained on, and one distiller per draft.
        self.n_trained = np.zeros(cluster.num_domains)
        self.distillers: list[dist.Distiller] = []
        self.update: dist.Update | None = None
        self.refresh_acceptance()

    def set_assigned(self, ids: np.ndarray, arrival_s: np.ndarray) -> None:
        """Round robin: the requests routed here up front, in arrival order."""
        self.assigned_l, self.assigned_s_l = ids.tolist(), arrival_s.tolist()
        self.next_s = self.assigned_s_l[0] if self.assigned_s_l else math.inf

    @property
    def outstanding(self) -> int:
        return len(self.waiting) + self.state.shape[1] + len(self.prefill_q) + len(self.prefilling)

    # ------------------------------------------------------------ acceptance

    def refresh_acceptance(self) -> None:
        """Per-domain α (and E[tokens | γ] for the goodput policy) for the draft's current state."""
        cl = self.cl
        if cl.acceptance is None:
            self.alpha_l = self.scale_l = [0.0] * cl.num_domains
            return
        names, model = cl.domains, cl.acceptance
        self.alpha_l = [model.expected_alpha(d, n) for d, n in zip(names, self.n_trained.tolist())]
        # accepted = floor(E / −ln α), E ~ Exp(1), capped at γ, is Geometric: P(≥ k) = α^k.
        self.scale_l = [_geometric_scale(a) for a in self.alpha_l]
        if self.state.shape[1]:
            if cl.num_domains == 1:
                self.state[SCALE] = self.scale_l[0]
                self.alpha_sum = self.alpha_l[0] * self.state.shape[1]
            else:
                dom = self.dom
                self.state[SCALE] = np.asarray(self.scale_l)[dom]
                self.alpha_sum = float(np.asarray(self.alpha_l)[dom].sum())
        if cl.gamma_policy == "goodput":
            grid = range(cl.max_gamma + 1)
            self.etok = np.array([[model.expected_tokens(g, d, n) for d, n in zip(names, self.n_trained)]
                                  for g in grid])
            self.gamma_memo: dict = {}

    def sample(self, gamma: int, size: int) -> np.ndarray:
        """(2, size) view: accepted drafts per sequence (0..gamma) and 1.0 where one was rejected."""
        cl = self.cl
        pair = self._pair[:, :size]
        acc = pair[0]
        if cl.iid:
            if self._pos + size > len(self._exp):
                self._exp, self._pos = self.rng.standard_exponential(max(EXP_BLOCK, size)), 0
            np.multiply(self._exp[self._pos:self._pos + size], self.state[SCALE], out=acc)
            self._pos += size
            np.floor(acc, out=acc)
            np.minimum(acc, gamma, out=acc)
        elif cl.num_domains == 1:
            acc[:] = cl.acceptance.sample_many(self.rng, gamma, size, cl.domains[0], self.n_trained[0])
        else:
            dom = self.dom
            for d in np.unique(dom):
                mask = dom == d
                acc[mask] = cl.acceptance.sample_many(self.rng, gamma, int(mask.sum()), cl.domains[d],
                                                      self.n_trained[d])
        np.less(acc, gamma, out=pair[1])
        return pair

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

    def pull_arrivals(self, now: float) -> None:
        """Move this replica's requests that have arrived by ``now`` into its queue."""
        times, j = self.assigned_s_l, self.pulled
        while j < len(times) and times[j] <= now:
            self.waiting.append(self.assigned_l[j])
            j += 1
        self.pulled = j
        self.next_s = times[j] if j < len(times) else math.inf

    def next_arrival_s(self) -> float:
        return self.next_s

    def admit(self) -> list[int]:
        """FIFO admission within max_batch and KV capacity; a request that can never fit is dropped."""
        cl, out = self.cl, []
        room = cl.max_batch - self.state.shape[1] - len(self.prefill_q)
        while self.waiting and len(out) < room:
            i = self.waiting[0]
            need = cl.kv_need_l[i]
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

    def join(self, ids: list[int], now: float) -> None:
        """Prefilled requests emit their first token and join the running batch."""
        cl = self.cl
        cl.first_token_log.append((now, ids))
        new = cl.template[:, ids]  # remaining = output − 1, zeros, id, domain
        new[START] = self.counter
        if cl.num_domains == 1:
            new[SCALE] = self.scale_l[0]
            self.alpha_sum += self.alpha_l[0] * len(ids)
        else:
            doms = [cl.domain_l[i] for i in ids]
            new[SCALE] = [self.scale_l[d] for d in doms]
            self.alpha_sum += sum(self.alpha_l[d] for d in doms)
        self.ctx_sum += sum(cl.prompt_l[i] for i in ids) + len(ids)
        self.state = np.concatenate((self.state, new), axis=1)
        self.remaining = self.state[REMAINING]

    def retire(self, now: float) -> None:
        """Log and remove sequences that have emitted all their tokens."""
        cl = self.cl
        done = self.remaining <= 0.0
        finished = self.state[:, done]
        self.state = self.state[:, ~done]
        self.remaining = self.state[REMAINING]
        cl.finish_log.append((now, self.counter, finished))
        ids = finished[ID].astype(np.int64).tolist()
        doms = [cl.domain_l[i] for i in ids]
        freed = sum(cl.kv_need_l[i] for i in ids)
        self.kv_used -= freed
        self.ctx_sum -= freed
        self.alpha_sum -= sum(self.alpha_l[d] for d in doms)
        for d in self.distillers:
            d.add_records(doms)

    @property
    def ids(self) -> np.ndarray:
        return self.state[ID].astype(np.int64)

    @property
    def dom(self) -> np.ndarray:
        return self.state[DOM].astype(np.int64)

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
                                    u.stall_s, self.cl.online.mode, sum(self.alpha_l) / len(self.alpha_l)))


def _geometric_scale(alpha: float) -> float:
    if alpha <= 0.0:
        return 0.0
    if alpha >= 1.0:
        return 1e300
    return -1.0 / math.log(alpha)


def replica(env, rep: Replica):
    """The serving loop of one replica: admit, then one iteration (prefill and/or a speculative
    step for the running batch); repeat until no work can come."""
    cl = rep.cl
    online, pricer, rows, chunk = cl.online, cl.pricer, cl.step_rows, cl.prefill_chunk
    capacity = pricer.capacity
    spare_mode = online is not None and online.mode == "spare"
    interference = online.interference if online is not None else 0.0
    idx, spec, single = rep.index, cl.acceptance is not None, cl.num_domains == 1
    fixed_gamma = cl.gamma_policy if isinstance(cl.gamma_policy, int) else None
    shared = rep.distillers[0] if len(rep.distillers) == 1 else None
    while True:
        now = env.now
        if rep.next_s <= now:
            rep.pull_arrivals(now)
        if online is not None and rep.update is None and (
                shared.pending >= shared.interval if shared is not None
                else any(d.pending >= d.interval for d in rep.distillers)):
            update = rep.start_update(now)
            if update is not None and not spare_mode:  # exclusive: the replica trains, serving waits
                yield env.timeout(update.min_end_s - now)
                update.flops_left = 0.0
                rep.finish_update(env.now)
                continue
        admitted = rep.admit() if rep.waiting else []
        batch = rep.state.shape[1]
        # Prefill work this iteration: whole prompts in an iteration of their own (vLLM V0), or up
        # to `chunk` prompt tokens riding along with the decode step (chunked prefill).
        if chunk is None:
            joining, prompt_tokens, prefill_seqs = admitted, 0, len(admitted)
            if admitted:
                prompt_tokens = sum(cl.prompt_l[i] for i in admitted)
                batch = 0
        else:
            rep.prefill_q.extend([i, cl.prompt_l[i]] for i in admitted)
            joining, prompt_tokens, prefill_seqs = rep.take_chunk(chunk)
        if batch == 0 and not prefill_seqs:
            wait = yield from _idle(env, rep)
            if not wait:
                return
            continue
        rep.prefilling = joining
        ctx = rep.ctx_sum / batch if batch else 0.0
        if not (spec and batch):
            gamma = 0
        else:
            gamma = fixed_gamma if fixed_gamma is not None else rep.choose_gamma(batch, ctx)
        if not prefill_seqs:
            seconds, flops = pricer.step(batch, gamma, ctx)
        elif batch:
            seconds, flops = pricer.mixed(batch, gamma, ctx, prefill_seqs, prompt_tokens)
        else:
            seconds, flops = pricer.prefill(prefill_seqs, prompt_tokens / prefill_seqs)
        stall, updating = 0.0, rep.update is not None
        if updating:
            seconds, stall = dist.charge_step(rep.update, now, seconds, flops, capacity, interference)
        # Draw the step's outcome now; apply it when the step ends (a horizon mid-step emits nothing).
        accepted, alpha, tokens = 0.0, math.nan, 0.0
        if gamma:
            pair = rep.sample(gamma, batch)
            accepted, rejections = _sum(pair, axis=1).tolist()
            alpha = rep.alpha_l[0] if single else rep.alpha_sum / batch
            emitted = np.minimum(pair[0] + 1.0, rep.remaining)
            tokens = float(_sum(emitted))
        elif batch:
            emitted = np.minimum(1.0, rep.remaining)
            tokens = float(_sum(emitted))
        in_system = rep.state.shape[1] + len(rep.waiting) + len(rep.prefill_q) + len(joining)
        yield env.timeout(seconds)
        if batch:
            if gamma:
                rep.state[ACCEPTED:REJECTED + 1] += pair
                if shared is not None:
                    shared.add_mismatches(int(rejections))
                elif online is not None:
                    _buffer_mismatches(rep, pair[1] > 0)
            rep.remaining -= emitted
            rep.counter += 1
            rep.ctx_sum += tokens
        if joining:
            rep.prefilling = []
            rep.join(joining, env.now)
        first = len(joining)
        rows.append((now, idx, batch, prefill_seqs, prompt_tokens, in_system, gamma, tokens + first, first,
                     accepted, seconds, flops, alpha, stall, updating))
        if np.count_nonzero(rep.remaining) < rep.state.shape[1]:
            rep.retire(env.now)
        if updating and dist.done(rep.update, env.now):
            rep.finish_update(env.now)


def _buffer_mismatches(rep: Replica, rejected: np.ndarray) -> None:
    # One mismatched position per sequence whose step ended in a rejection.
    if len(rep.distillers) == 1:
        rep.distillers[0].add_mismatches(int(np.count_nonzero(rejected)))
        return
    by_dom = np.bincount(rep.dom[rejected], minlength=rep.cl.num_domains)
    for d in rep.distillers:
        d.add_mismatches(int(by_dom[d.serves].sum()))


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
