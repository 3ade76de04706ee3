"""The serving loop of one replica (``serve``): admission, prefill and speculative steps.

Waiting requests are admitted first-come first-served within ``max_batch`` and the KV-cache
capacity, which reserves prompt + output tokens per request so nothing is ever preempted. Then
one iteration runs:

- without ``prefill_chunk`` (vLLM V0): newly admitted prompts are prefilled in an iteration of
  their own (their first token comes out at its end); otherwise the running batch takes one
  speculative step;
- with ``prefill_chunk`` = C (chunked prefill, Sarathi-Serve / vLLM V1): up to C prompt tokens
  ride along with the running batch's speculative step in one fused iteration.

A speculative step emits min(1 + accepted, remaining) tokens per sequence; γ = 0 is plain
decoding. Events are per iteration and per arrival, never per token. The state it works on is
:class:`osdsim.sim.replica.Replica`'s; :mod:`osdsim.sim.routing` drives it.
"""

from __future__ import annotations

import math

import numpy as np

from osdsim.sim import distiller as dist
from osdsim.sim.replica import EXP_BLOCK, Replica

CLIP_SCALE = 1e15  # largest 1/−ln α for which E·scale is cast to an integer without capping first


class IdleWait:
    """What ``serve`` yields when it waits for the dispatcher (or ``until``, when finite)."""

    __slots__ = ("until",)

    def __init__(self, until: float):
        self.until = until


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
