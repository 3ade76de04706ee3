"""Driving the replicas: each on its own clock (round robin), or coupled by a SimPy dispatcher.

Clocks. ``serve`` keeps its replica's clock the way SimPy would (a wait of d from t resumes at
t + d). Round-robin replicas share nothing, so :func:`run_alone` runs each one straight through
without an event queue (an event at or after the horizon is not processed, as in
``env.run(until=horizon)``); the least-outstanding router couples replicas through the
dispatcher, so :func:`simpy_replica` runs the same generator as a SimPy process (it yields its
waits and is sent the time it resumes at).
"""

from __future__ import annotations

import math

from osdsim.sim.loop import IdleWait, serve
from osdsim.sim.replica import Replica


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
    gen = serve(rep, env.now)
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


def round_robin(scenario, cl, reps: list[Replica]) -> float:
    """Request i goes to replica i mod N, decided up front (closed-loop clients likewise): the
    replicas share nothing, so each runs alone to its end in turn; the tables are put in
    canonical order later. Returns the end of the simulated time."""
    import numpy as np

    closed, n = scenario.workload.arrival == "closed", len(cl.arrival)
    for rep in reps:
        ids = np.arange(rep.index, n, scenario.replicas, dtype=np.int64)
        if closed:  # client c sends its requests to replica c mod replicas
            rep.set_clients(ids, len(range(rep.index, scenario.workload.concurrency, scenario.replicas)))
        else:
            rep.set_assigned(ids, cl.arrival[ids])
        cl.replica[ids] = rep.index
    end_s = max([run_alone(rep, scenario.horizon_s) for rep in reps] + [0])
    return float(scenario.horizon_s) if scenario.horizon_s is not None else end_s  # SimPy's clock stops there


def least_outstanding(scenario, cl, reps: list[Replica]) -> float:
    """Each arrival goes to the replica with the fewest requests in it: the dispatcher couples
    the replicas, so SimPy orders their events."""
    import simpy

    env = simpy.Environment()
    env.process(dispatcher(env, cl, reps))
    for rep in reps:
        env.process(simpy_replica(env, rep))
    env.run(until=scenario.horizon_s)
    return env.now


ROUTERS = {"round_robin": round_robin, "least_outstanding": least_outstanding}
