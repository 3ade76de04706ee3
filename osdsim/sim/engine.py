"""The replica engine: iteration-level continuous batching with speculative steps.

One ``serve`` generator per replica. Waiting requests are admitted first-come first-served
within ``max_batch`` and the KV-cache capacity, which reserves prompt + output tokens per request
so nothing is ever preempted. Then one iteration runs:

- without ``prefill_chunk`` (vLLM V0): newly admitted prompts are prefilled in an iteration of
  their own (their first token comes out at its end); otherwise the running batch takes one
  speculative step;
- with ``prefill_chunk`` = C (chunked prefill, Sarathi-Serve / vLLM V1): up to C prompt tokens
  ride along with the running batch's speculative step in one fused iteration.

A speculative step emits min(1 + accepted, remaining) tokens per sequence; γ = 0 is plain
decoding. Events are per iteration and per arrival, never per token.

Clocks. ``serve`` keeps its replica's clock the way SimPy would (a wait of d from t resumes at
t + d). Round-robin replicas share nothing, so :func:`run_alone` runs each one straight through
without an event queue (an event at or after the horizon is not processed, as in
``env.run(until=horizon)``); the least-outstanding router couples replicas through the
dispatcher, so :func:`simpy_replica` runs the same generator as a SimPy process (it yields its
waits and is sent the time it resumes at).

Per-sequence state is one row of a float64 matrix per sequence (columns ``Y``, ``SCALE``,
``START``, ``ID``, ``DOM``; rows kept in join order, which fixes which Exp(1) draw goes to which
sequence). ``Y`` packs two counters into one exact integer-valued float: Y = rejections −
K·remaining, K a power of two above any count of rejections (``Cluster.pack``). A step adds
K·(accepted + 1) + [accepted < γ] to every sequence from a small table, one dot product of the
same values gives the step's accepted drafts and rejections, and a sequence has finished exactly
when Y ≥ 0; accepted drafts per sequence follow from tokens emitted − steps.
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
CLIP_SCALE = 1e15  # largest 1/−ln α for which E·scale is cast to an integer without capping first


class IdleWait:
    """What ``serve`` yields when it waits for the dispatcher (or ``until``, when finite)."""

    __slots__ = ("until",)

    def __init__(self, until: float):
        self.until = until


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


def serve(rep: Replica, now, horizon: float | None = None):
    """The serving loop of one replica: admit, then one iteration (prefill and/or a speculative
    step for the running batch); repeat until no work can come.

    Coupled (``horizon`` None): a generator that yields a delay (or an :class:`IdleWait`) and is
    sent the time it resumes at (None: stop). Alone (``horizon`` given, math.inf for none): it
    never yields, advances its own clock as SimPy would (now + delay, an event at or after the
    horizon is not processed) and returns the time of its last event.

    The hot state (batch size, counters, sums) lives in locals and is written back to ``rep``
    where other code reads it (``rep.n`` always; the rest around updates and at the end).
    """
    cl = rep.cl
    alone = horizon is not None
    online, pricer, chunk = cl.online, cl.pricer, cl.prefill_chunk
    capacity = pricer.capacity
    spare_mode = online is not None and online.mode == "spare"
    slowdown = 1.0 + (online.interference if online is not None else 0.0)
    idx, spec, single, iid = rep.index, cl.acceptance is not None, cl.num_domains == 1, cl.iid
    fixed_gamma = cl.gamma_policy if isinstance(cl.gamma_policy, int) else None
    distillers = rep.distillers
    shared = distillers[0] if len(distillers) == 1 else None
    many = online is not None and shared is None
    interval = shared.interval if shared is not None else 0
    all_served = shared is not None and shared.serves_all
    dispatched, pack, max_batch = cl.dispatched, cl.pack, cl.max_batch
    prompt_l, kv_need, kv_capacity, y0_l, domain_l = cl.prompt_l, cl.kv_need_l, cl.kv_capacity, cl.y0_l, cl.domain_l
    step_memo, prefill_memo, bucket = pricer._steps, pricer._prefills, pricer.bucket
    price_step, price_prefill = pricer.step, pricer.prefill
    waiting, prefill_q = rep.waiting, rep.prefill_q
    times, arrivals = rep.assigned_s_l, rep.assigned_l
    n_times = len(times)
    pop, push, finish_update = waiting.popleft, waiting.append, rep.finish_update
    rows_extend, first_token_log, finish_log = cl.step_rows.fromlist, cl.first_token_log, cl.finish_log
    nan, inf = math.nan, math.inf
    add, multiply, minimum, greater_equal, count_nonzero, logical_not = np.add, np.multiply, np.minimum, \
        np.greater_equal, np.count_nonzero, np.logical_not
    intp = np.intp
    rows, lives, yvs, svs, pvs, bvs, ones = rep.rows, rep.lives, rep.yvs, rep.svs, rep.pvs, rep.bvs, rep.ones
    fast = iid and bool(fixed_gamma)
    if fast:
        table, gammas = rep.table(fixed_gamma), rep.gamma_columns(fixed_gamma)
    n, counter, ctx_sum, alpha_sum, kv_used = rep.n, rep.counter, rep.ctx_sum, rep.alpha_sum, rep.kv_used
    pulled, next_s, alpha_l, scale_l = rep.pulled, rep.next_s, rep.alpha_l, rep.scale_l
    # E·scale stays far below 2^63 (Exp(1) draws are < 40) unless some α is 1 (scale 1e300): then
    # the cast could overflow, so cap at γ before it instead of clipping the table index after.
    clip = max(scale_l) <= CLIP_SCALE
    int_time, int_prompt = cl.int_columns["time_s"], cl.int_columns["prompt_tokens"]
    exp_draws, pos = rep._exp, rep._pos  # the fast path's Exp(1) buffer (Replica.sample otherwise)
    buffer_size = shared.buffer_size if shared is not None else 0
    try:
        while True:
            if next_s <= now:  # this replica's arrivals so far join the queue (round robin)
                while pulled < n_times and times[pulled] <= now:
                    push(arrivals[pulled])
                    pulled += 1
                next_s = times[pulled] if pulled < n_times else inf
            update = rep.update
            if update is None and (shared.pending >= interval if shared is not None
                                   else many and any(d.pending >= d.interval for d in distillers)):
                update = rep.start_update(now)
                if update is not None and not spare_mode:  # exclusive: the replica trains, serving waits
                    if alone:
                        t = now + (update.min_end_s - now)
                        if t >= horizon:
                            return now
                        now = t
                    else:
                        now = yield update.min_end_s - now
                    update.flops_left = 0.0
                    rep.alpha_sum = alpha_sum
                    finish_update(now)
                    alpha_sum, alpha_l, scale_l = rep.alpha_sum, rep.alpha_l, rep.scale_l
                    clip = max(scale_l) <= CLIP_SCALE
                    continue
            batch = n
            admitted, admitted_prompts = [], 0
            if waiting:  # FIFO admission within max_batch and the KV capacity
                room = max_batch - n - len(prefill_q)
                while waiting and len(admitted) < room:
                    i = waiting[0]
                    need = kv_need[i]
                    if need > kv_capacity:  # can never fit: dropped
                        pop()
                        cl.rejected[i] = True
                        continue
                    if kv_used + need > kv_capacity:
                        break
                    pop()
                    kv_used += need
                    admitted.append(i)
                    admitted_prompts += prompt_l[i]
            # Prefill work this iteration: whole prompts in an iteration of their own (vLLM V0), or
            # up to `chunk` prompt tokens riding along with the decode step (chunked prefill).
            if chunk is None:
                joining, prompt_tokens, prefill_seqs = admitted, 0, len(admitted)
                if admitted:
                    prompt_tokens = admitted_prompts  # = sum(prompt_l[i] for i in admitted)
                    batch = 0
            else:
                prefill_q.extend([i, prompt_l[i]] for i in admitted)
                joining, prompt_tokens, prefill_seqs = rep.take_chunk(chunk)
            if batch == 0 and not prefill_seqs:
                # Idle: wait for work (an arrival) or for a spare-mode update to finish.
                until = next_s
                if update is not None:
                    until = min(until, dist.idle_finish_s(update, now, capacity))
                if dispatched:
                    resumed = yield IdleWait(until)
                    if resumed is None:
                        return now
                else:
                    if math.isinf(until):
                        return now
                    if alone:
                        resumed = now + (until - now)
                        if resumed >= horizon:
                            return now
                    else:
                        resumed = yield until - now
                if update is not None:
                    dist.charge_idle(update, resumed - now, capacity)
                    if dist.done(update, resumed):
                        rep.alpha_sum = alpha_sum
                        finish_update(resumed)
                        alpha_sum, alpha_l, scale_l = rep.alpha_sum, rep.alpha_l, rep.scale_l
                        clip = max(scale_l) <= CLIP_SCALE
                now = resumed
                continue
            rep.prefilling = joining
            if not (spec and batch):
                gamma = 0
            else:
                gamma = fixed_gamma if fixed_gamma is not None else rep.choose_gamma(batch, ctx_sum / batch)
            if not prefill_seqs:  # Pricer.step, its memo read here
                ctx = ctx_sum / batch
                price = step_memo.get((batch, gamma, int(ctx / bucket + 0.5)))
                seconds, flops = price if price is not None else price_step(batch, gamma, ctx)
            elif batch:
                seconds, flops = pricer.mixed(batch, gamma, ctx_sum / batch, prefill_seqs, prompt_tokens)
            else:  # Pricer.prefill, its memo read here
                mean = prompt_tokens / prefill_seqs
                price = prefill_memo.get((prefill_seqs, int(mean / bucket + 0.5)))
                seconds, flops = price if price is not None else price_prefill(prefill_seqs, mean)
            stall, updating = 0.0, update is not None
            if updating:  # dist.charge_step, inline
                seconds *= slowdown
                spare = capacity * seconds - flops
                if spare > 0.0:
                    update.flops_left -= spare
                if update.flops_left > 0.0 and now + seconds >= update.min_end_s:
                    stall = update.flops_left / capacity  # the rest runs with the card to itself
                    update.flops_left = 0.0
                    update.stall_s += stall
                seconds += stall
            in_system = n + len(waiting) + len(prefill_q) + len(joining)
            start = now
            if alone:
                now = start + seconds
                if now >= horizon:
                    return start
            else:
                now = yield seconds
            # The step's outcome (a horizon mid-step emits nothing: the loop never gets here).
            accepted, alpha, check = 0.0, nan, False
            if batch:
                yv = yvs[batch]
                if gamma:
                    if fast:
                        # accepted = min(floor(E·scale), γ) = floor(min(E·scale, γ)); the cast floors.
                        if pos + batch > len(exp_draws):
                            exp_draws, pos = rep.rng.standard_exponential(max(EXP_BLOCK, batch)), 0
                        x = multiply(exp_draws[pos:pos + batch], svs[batch], out=pvs[batch])
                        pos += batch
                        if clip:  # take(mode="clip") caps the index at γ
                            acc = x.astype(intp)
                            step = table.take(acc, mode="clip")
                        else:
                            acc = minimum(x, gammas[batch], out=x).astype(intp)
                            step = table.take(acc)
                    else:
                        acc = rep.sample(gamma, batch)
                        step = rep.table(gamma).take(acc)
                    add(yv, step, out=yv)
                    total = float(step.dot(ones[batch]))  # pack·(accepted + batch) + rejections, exact
                    packed = total // pack
                    accepted = packed - batch
                    alpha = alpha_l[0] if single else alpha_sum / batch
                    if shared is not None:  # Distiller.add_mismatches: a bounded buffer
                        shared.buffer_tokens = min(buffer_size, shared.buffer_tokens + int(total - packed * pack))
                    elif online is not None:
                        _buffer_mismatches(rep, acc < gamma)
                else:
                    add(yv, pack, out=yv)
                counter += 1
                check = True
            if joining:  # prefilled requests emit their first token and join the running batch
                rep.prefilling = []
                first_token_log.append((now, joining))
                if n + len(joining) >= len(rows):  # more room (max_batch bounds the batch)
                    rep.grow(min(max_batch, 2 * (n + len(joining))))
                    rows, lives, yvs, svs, pvs, bvs, ones = rep.rows, rep.lives, rep.yvs, rep.svs, rep.pvs, \
                        rep.bvs, rep.ones
                    if fast:
                        gammas = rep.gamma_columns(fixed_gamma)
                prompts, alphas = 0, 0
                for i in joining:
                    d, y = domain_l[i], y0_l[i]
                    rows[n] = (y, scale_l[d], counter, i, d)
                    n += 1
                    prompts += prompt_l[i]
                    alphas += alpha_l[d]
                    if y >= 0.0:  # a one-token output: done already
                        check = True
                first = len(joining)
                alpha_sum += alpha_l[0] * first if single else alphas
                ctx_sum += prompts + first
                rep.n = n
            else:
                first = 0
            overshoot = 0.0
            if check and count_nonzero(greater_equal(yvs[n], 0.0, out=bvs[n])):
                # Log and remove finished sequences, keeping the others' order (it decides draws).
                finished, live = bvs[n], lives[n]
                done = live.compress(finished, axis=0)
                m = n - len(done)
                rows[:m] = live.compress(logical_not(finished), axis=0)
                n = rep.n = m
                finish_log.append((now, counter, done))
                freed, alphas = 0, 0
                if all_served:  # one draft for every domain: Distiller.add_records, inline
                    records = shared.records
                    for y, _, _, i, d in done.tolist():
                        d = int(d)
                        records[d] += 1
                        overshoot += y // pack  # tokens the last step drew beyond the output
                        freed += kv_need[int(i)]
                        alphas += alpha_l[d]
                    shared.pending += len(done)
                else:
                    doms = []
                    for y, _, _, i, d in done.tolist():
                        d = int(d)
                        doms.append(d)
                        overshoot += y // pack
                        freed += kv_need[int(i)]
                        alphas += alpha_l[d]
                    for d in distillers:
                        d.add_records(doms)
                kv_used -= freed
                ctx_sum -= freed
                alpha_sum -= alphas
            tokens = accepted + batch - overshoot  # Σ min(1 + accepted, remaining), exact integers
            ctx_sum += tokens
            if int_time or int_prompt:  # the step table's int-or-float columns (results.step_frame)
                int_time = int_time and type(start) is int
                int_prompt = int_prompt and type(prompt_tokens) is int
            rows_extend([start, idx, batch, prefill_seqs, prompt_tokens, in_system, gamma, tokens + first, first,
                         accepted, seconds, flops, alpha, stall, updating])
            if updating and now >= update.min_end_s - 1e-12 and update.flops_left <= 0.0:  # dist.done
                rep.alpha_sum = alpha_sum
                finish_update(now)
                alpha_sum, alpha_l, scale_l = rep.alpha_sum, rep.alpha_l, rep.scale_l
                clip = max(scale_l) <= CLIP_SCALE
    finally:
        cl.int_columns["time_s"] = cl.int_columns["time_s"] and int_time
        cl.int_columns["prompt_tokens"] = cl.int_columns["prompt_tokens"] and int_prompt
        rep.n, rep.counter, rep.ctx_sum, rep.alpha_sum, rep.kv_used = n, counter, ctx_sum, alpha_sum, kv_used
        rep.pulled, rep.next_s = pulled, next_s
        if fast:
            rep._exp, rep._pos = exp_draws, pos


def _buffer_mismatches(rep: Replica, rejected: np.ndarray) -> None:
    # One mismatched position per sequence whose step ended in a rejection.
    if len(rep.distillers) == 1:
        rep.distillers[0].add_mismatches(int(np.count_nonzero(rejected)))
        return
    by_dom = np.bincount(rep.dom[rejected], minlength=rep.cl.num_domains)
    for d in rep.distillers:
        d.add_mismatches(int(by_dom[d.serves].sum()))


def run_alone(rep: Replica, horizon_s: float | None):
    """Run one replica that shares nothing with the others (round robin) to its end, as SimPy
    would. Returns the time of its last event (0 if it had none)."""
    try:
        next(serve(rep, 0, math.inf if horizon_s is None else horizon_s))
    except StopIteration as stop:
        return stop.value
    raise RuntimeError("serve yielded while running alone")


def simpy_replica(env, rep: Replica):
    """``serve`` as a SimPy process (least-outstanding router: the dispatcher wakes idle replicas)."""
    cl = rep.cl
    gen = rep.serving = serve(rep, env.now)  # closed after the run: it writes its state back
    try:
        cmd = next(gen)
        while True:
            if isinstance(cmd, IdleWait):
                until, now = cmd.until, env.now
                rep.wake = env.event()
                events = [rep.wake] if math.isinf(until) else [rep.wake, env.timeout(until - now)]
                if math.isinf(until) and cl.dispatch_done:
                    gen.close()
                    return
                yield env.any_of(events)
                rep.wake = None
            else:
                yield env.timeout(cmd)
            cmd = gen.send(env.now)
    except StopIteration:
        return


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
