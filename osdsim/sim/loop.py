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


def start_update(rep: Replica, now: float) -> bool:
    """Stage 7, at the top of a turn: a due draft update starts; True if it takes the replica
    (exclusive mode) and serving must wait for it."""
    rep.start_update(now)
    return rep.mode.exclusive


def idle_until(rep: Replica, now: float) -> float:
    """Nothing to run: wait for the next arrival, or a spare-mode update's end if sooner."""
    until = rep.next_s
    if rep.update is not None:
        until = min(until, rep.mode.idle_finish_s(rep.update, now))
    return until


def after_wait(rep: Replica, kind: int, start: float, now: float) -> None:
    """An idle wait (the update in flight had the replica's FLOPs) or an exclusive update ended."""
    if kind == IDLE:
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
    alone, dispatched, it = horizon is not None, rep.cl.dispatched, None
    while True:
        if rep.next_s <= now:
            rep.pull_arrivals(now)
        if rep.due and rep.update is None and start_update(rep, now):
            kind, wait = EXCLUSIVE, rep.update.min_end_s - now
        else:
            it = rep.build(now)  # stages 1-2
            if it is None:
                kind, wait = IDLE, idle_until(rep, now)
            else:
                kind, wait = STEP, rep.price(it, now)  # stage 3
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
        if kind == STEP:
            rep.finish(it, now, resumed)  # stages 4-7
        else:
            after_wait(rep, kind, now, resumed)
        now = resumed
