"""The serving loop of one replica, ``serve``: the engine's stages in order, one clock advance per turn.

Each turn is one of three actions:

- an exclusive draft update (the distiller's ``exclusive`` mode): serving waits ``update_s``;
- idle: nothing to run until the next arrival (or a spare-mode update's end);
- an iteration: stages 1-3 (admit, build, price) before the clock moves, stages 4-7 (draw,
  apply, retire, charge the distiller) after it (:class:`osdsim.sim.replica.Replica`).

Clocks. ``serve`` keeps its replica's clock the way SimPy would (a wait of d from t resumes at
t + d). Alone (round robin: replicas share nothing) it never yields and an event at or after the
horizon is not processed, as ``env.run(until=horizon)`` would; coupled (least outstanding: the
dispatcher couples replicas) it yields each wait and is sent the time it resumes at
(:mod:`osdsim.sim.routing`).
"""

from __future__ import annotations

import math

from osdsim.sim.distiller import done
from osdsim.sim.replica import Replica

EXCLUSIVE, IDLE, STEP = range(3)


class IdleWait:
    """What ``serve`` yields when it waits for the dispatcher (or ``until``, when finite)."""

    __slots__ = ("until",)

    def __init__(self, until: float):
        self.until = until


def next_action(rep: Replica, now: float) -> tuple[int, float]:
    """What the replica does next, and for how long (EXCLUSIVE, STEP) or until when (IDLE)."""
    if rep.due and rep.update is None:
        update = rep.start_update(now)
        if rep.mode.exclusive:
            return EXCLUSIVE, update.min_end_s - now
    it = rep.build(now)
    if it is None:
        until = rep.next_s
        if rep.update is not None:
            until = min(until, rep.mode.idle_finish_s(rep.update, now))
        return IDLE, until
    seconds = rep.price(it, now)
    if not seconds < math.inf:
        raise ValueError(f"the cost model priced an iteration at {seconds} seconds "
                         f"(batch {it.batch}, gamma {it.gamma}, {it.prefill_seqs} prefills)")
    return STEP, seconds


def complete(rep: Replica, kind: int, start: float, now: float) -> None:
    """What happens when the action that began at ``start`` ends at ``now``."""
    if kind == STEP:
        rep.finish(rep.it, start, now)
    elif kind == IDLE:
        if rep.update is not None:
            rep.mode.charge_idle(rep.update, now - start)
            if done(rep.update, now):
                rep.finish_update(now)
    else:  # the exclusive update has had the replica to itself
        rep.update.flops_left = 0.0
        rep.finish_update(now)


def serve(rep: Replica, now, horizon: float | None = None):
    """Run one replica until no work can come (a generator; see the module docstring).

    Coupled (``horizon`` None): yields a delay (or an :class:`IdleWait`) and is sent the time
    it resumes at (None: stop). Alone (``horizon`` given, math.inf for none): never yields and
    returns the time of its last event.
    """
    alone = horizon is not None
    dispatched = rep.cl.dispatched
    while True:
        if rep.next_s <= now:
            rep.pull_arrivals(now)
        kind, wait = next_action(rep, now)
        if kind == IDLE and dispatched:
            resumed = yield IdleWait(wait)
            if resumed is None:
                return now
        else:
            delay = wait - now if kind == IDLE else wait
            if delay == math.inf:
                return now
            if alone:
                resumed = now + delay
                if resumed >= horizon:
                    return now
            else:
                resumed = yield delay
        complete(rep, kind, now, resumed)
        now = resumed
