"""``simulate(scenario)``: build the cluster, run the replicas, return DataFrames and a summary.

Randomness: one ``numpy.random.SeedSequence(seed)`` spawns fixed children — the workload first,
then one per replica for acceptance sampling — so a scenario and its plain-decoding baseline
see the very same requests, and the same seed gives the same DataFrames bit for bit.
"""

from __future__ import annotations

import gc
import math
from array import array
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from osdsim.sim import results, workload
from osdsim.sim.cluster import Cluster
from osdsim.sim.pricing import build_cost
from osdsim.sim.replica import Replica
from osdsim.sim.results import SimResult
from osdsim.sim.routing import ROUTERS
from osdsim.sim.scenario import Scenario, load_scenario


@dataclass(frozen=True)
class Given:
    """Objects given in place of what the scenario names: a cost model, an acceptance model, the
    requests (a :class:`osdsim.sim.workload.Requests` or a table with arrival_s, prompt_tokens,
    output_tokens[, domain]). None: the scenario's own."""

    cost: object = None
    acceptance: object = None
    requests: object = None


def _build(scenario: Scenario, given: Given):
    children = np.random.SeedSequence(scenario.seed).spawn(1 + scenario.replicas)
    reqs = workload.generate(scenario, np.random.default_rng(children[0]), given.requests)
    cost = given.cost if given.cost is not None else build_cost(scenario)
    return children, reqs, Cluster(scenario, reqs, cost, given.acceptance)


def _run_replicas(scenario: Scenario, given: Given, indices: list[int] | None = None):
    """Build the cluster and run the replicas in ``indices`` (all when None) to the end."""
    if not isinstance(given, Given):  # a cost model alone (benchmarks, older callers)
        given = Given(cost=given)
    children, reqs, cl = _build(scenario, given)
    indices = range(scenario.replicas) if indices is None else indices
    reps = [Replica(r, cl, np.random.default_rng(children[1 + r])) for r in indices]
    for rep in reps:
        rep.distillers = cl.distillers()
    router = scenario.router if cl.dispatched else "round_robin"
    return cl, reps, reqs, ROUTERS[router](scenario, cl, reps)


PER_REQUEST = ("arrival", "first_token_s", "finish_s", "replica", "steps", "accepted", "rejected_steps", "rejected")


@dataclass
class _Part:
    """What a worker process sends back: its replicas' rows, per-request results and live batches."""

    step_rows: array
    update_rows: list
    ids: np.ndarray
    arrays: dict
    replicas: list  # per replica: its running batch's counts (Replica.live)
    end_s: float


@contextmanager
def _no_cycle_collection():
    """The cyclic garbage collector off while a simulation runs, back as it was afterwards.

    A run allocates millions of small tuples and lists (step rows, logs) that live until the
    tables are built, and the collector kept walking them: ~30% of the run. The engine makes no
    growing cyclic garbage (reference counting frees everything it drops), so nothing piles up.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _run_part(args) -> _Part:
    scenario, given, indices = args
    with _no_cycle_collection():
        return _run_part_now(scenario, given, indices)


def _run_part_now(scenario: Scenario, given: Given, indices: list[int]) -> _Part:
    cl, reps, _, end_s = _run_replicas(scenario, given, indices)
    cl.flush_logs()
    ids = np.flatnonzero(np.isin(cl.replica, indices))
    live = [r.live() for r in reps]
    return _Part(cl.step_rows, cl.update_rows, ids, {k: getattr(cl, k)[ids] for k in PER_REQUEST},
                 live, end_s)


def _run_parallel(scenario: Scenario, given: Given, workers: int) -> SimResult:
    """Round-robin replicas share nothing, so groups of them run in separate processes; the
    merged tables are identical to a single-process run (rows are put in canonical order)."""
    import multiprocessing
    import os

    from osdsim.safe.procs import die_with_parent

    groups = [list(range(w, scenario.replicas, workers)) for w in range(workers)]
    # Workers end with this process, even when it is killed (no orphans computing on).
    with multiprocessing.get_context("fork").Pool(workers, initializer=die_with_parent,
                                                  initargs=(os.getpid(),)) as pool:
        parts = pool.map(_run_part, [(scenario, given, g) for g in groups])
    _, reqs, cl = _build(scenario, given)
    lives = []
    for part in parts:
        cl.step_rows += part.step_rows
        cl.update_rows += part.update_rows
        for name, values in part.arrays.items():
            getattr(cl, name)[part.ids] = values
        lives += part.replicas
    end_s = max(part.end_s for part in parts)
    return results.assemble(cl, lives, reqs, end_s, scenario.replicas)


def run_once(scenario: Scenario, cost=None, workers: int = 1, acceptance=None, requests=None) -> SimResult:
    """Simulate ``scenario`` as given (no baseline); ``cost``, ``acceptance`` and ``requests``
    replace the scenario's (:class:`Given`). ``workers`` > 1 runs groups of replicas in separate
    processes when the router is round robin (they are independent); results are the same as
    with one process."""
    given = Given(cost, acceptance, requests)
    with _no_cycle_collection():
        if workers > 1 and scenario.replicas > 1 and scenario.router == "round_robin":
            return _run_parallel(scenario, given, min(workers, scenario.replicas))
        cl, reps, reqs, end_s = _run_replicas(scenario, given)
        return results.assemble(cl, [r.live() for r in reps], reqs, end_s, len(reps))


def simulate(scenario, cost=None, baseline: bool = True, overrides=(), workers: int = 1, *,
             acceptance=None, requests=None) -> SimResult:
    """Run a scenario (path, mapping or :class:`Scenario`) and, unless ``baseline`` is False,
    its plain-decoding baseline on the same requests; ``summary["speedup"]`` is baseline mean
    latency / mean latency. Objects replace what the scenario names: ``cost`` (a CostModel),
    ``acceptance`` (an acceptance model), ``requests`` (a ``Requests`` or a table with arrival_s,
    prompt_tokens, output_tokens[, domain]); the scenario's target, draft and hardware may be
    card objects too. They must pickle when ``workers`` > 1, which spreads round-robin replicas
    over processes."""
    scenario = load_scenario(scenario, overrides)
    result = run_once(scenario, cost, workers, acceptance, requests)
    result.scenario = scenario
    if baseline:
        base = run_once(scenario.plain(), cost, workers, None, requests)
        result.summary["baseline"] = base.summary
        result.summary.update(ratios(result.summary, base.summary))
    return result


def ratios(mine: dict, base: dict) -> dict:
    """Speculation against its plain-decoding baseline: ``speedup`` = baseline mean latency / mean
    latency and ``throughput_ratio`` = throughput / baseline throughput, over the whole run and
    over the steady-state window (``_steady``; :func:`osdsim.sim.results.steady_state`)."""
    def ratio(a, b):
        return a / b if a and b and b > 0 and math.isfinite(a) and math.isfinite(b) else math.nan

    s, b = mine.get("steady", {}), base.get("steady", {})
    return {"speedup": ratio(base["latency_mean_s"], mine["latency_mean_s"]),
            "throughput_ratio": ratio(mine["throughput_tok_s"], base["throughput_tok_s"]),
            "speedup_steady": ratio(b.get("latency_mean_s"), s.get("latency_mean_s")),
            "throughput_ratio_steady": ratio(s.get("throughput_tok_s"), b.get("throughput_tok_s"))}
