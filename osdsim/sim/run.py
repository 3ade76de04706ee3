"""``simulate(scenario)``: build the cluster, run SimPy, return DataFrames and a summary.

Randomness: one ``numpy.random.SeedSequence(seed)`` spawns fixed children — the workload first,
then one per replica for acceptance sampling — so a scenario and its plain-decoding baseline
see the very same requests, and the same seed gives the same DataFrames bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from osdsim.acceptance import (
    ConstantAcceptance,
    EmpiricalAcceptance,
    LearningCurveAcceptance,
    PerPositionAcceptance,
)
from osdsim.sim import engine, results, workload
from osdsim.sim.distiller import Distiller
from osdsim.sim.pricing import Pricer, build_cost, kv_tokens, models
from osdsim.sim.scenario import Scenario, load_scenario


@dataclass
class SimResult:
    """Per-request, per-step and per-update tables, and the summary (see :mod:`osdsim.sim.results`)."""

    requests: Any  # pandas.DataFrame
    steps: Any
    updates: Any
    summary: dict[str, Any]
    scenario: Scenario = field(repr=False, default=None)


def build_acceptance(scenario: Scenario):
    """The scenario's acceptance model (None for plain decoding)."""
    if not scenario.speculative:
        return None
    spec = scenario.acceptance
    if spec.model == "constant":
        return ConstantAcceptance(spec.alpha, spec.by_domain)
    if spec.model == "per_position":
        return PerPositionAcceptance(spec.alphas)
    if spec.model == "learning_curve":
        if spec.curves is not None:
            return LearningCurveAcceptance(scenario.resolve(spec.curves))
        return LearningCurveAcceptance({"form": "exp", "unit": "records", "domains": spec.domains})
    path = scenario.resolve(spec.trace)
    if path.endswith(".csv"):
        import pandas as pd

        return EmpiricalAcceptance(pd.read_csv(path))
    return EmpiricalAcceptance.from_trace(path)


class Cluster:
    """Everything the replicas share: requests, prices, acceptance, and the output arrays."""

    def __init__(self, scenario: Scenario, reqs: workload.Requests, cost):
        target, draft = models(scenario)
        self.scenario = scenario
        self.pricer = Pricer(cost, target, draft, scenario.context_bucket)
        self.acceptance = build_acceptance(scenario)
        self.iid = bool(getattr(self.acceptance, "iid", False))
        self.gamma_policy = scenario.gamma if scenario.speculative else 0
        self.max_gamma = scenario.max_gamma
        self.online = scenario.online if scenario.speculative else None
        self.max_batch = scenario.max_batch
        self.prefill_chunk = scenario.prefill_chunk
        self.kv_capacity = kv_tokens(scenario, target, draft)
        self.domains = reqs.domains
        self.num_domains = len(reqs.domains)
        n = len(reqs)
        self.arrival = reqs.arrival_s
        self.prompt = reqs.prompt_tokens.astype(float)
        self.output = reqs.output_tokens.astype(float)
        self.domain = reqs.domain
        self.kv_need = self.prompt + self.output
        # Python lists for scalar access in the engine (numpy scalar indexing is slow).
        self.prompt_l, self.output_l = self.prompt.tolist(), self.output.tolist()
        self.domain_l, self.kv_need_l = self.domain.tolist(), self.kv_need.tolist()
        self.first_token_log: list[tuple[float, list[int]]] = []
        # A joining request's column of the engine's state matrix (START and SCALE set on joining).
        from osdsim.sim.engine import DOM, ID, REMAINING, ROWS

        self.template = np.zeros((ROWS, n))
        self.template[REMAINING] = self.output - 1.0
        self.template[ID] = np.arange(n)
        self.template[DOM] = self.domain
        self.finish_log: list[tuple[float, int, np.ndarray]] = []
        self.first_token_s = np.full(n, math.nan)
        self.finish_s = np.full(n, math.nan)
        self.replica = np.full(n, -1, dtype=np.int64)
        self.steps = np.zeros(n)
        self.accepted = np.zeros(n)
        self.rejected_steps = np.zeros(n)
        self.rejected = np.zeros(n, dtype=bool)  # could never fit in the KV cache

        self.step_rows: list[tuple] = []
        self.update_rows: list[tuple] = []
        self.dispatched = scenario.router == "least_outstanding" and scenario.replicas > 1
        self.dispatch_done = False

    def flush_logs(self) -> None:
        """Fill the per-request arrays from the engine's first-token and finish logs."""
        from osdsim.sim.engine import ACCEPTED, ID, REJECTED, START

        if self.first_token_log:
            times = np.concatenate([np.full(len(ids), now) for now, ids in self.first_token_log])
            ids = np.fromiter((i for _, chunk in self.first_token_log for i in chunk), dtype=np.int64)
            self.first_token_s[ids] = times
        if self.finish_log:
            done = np.concatenate([m for _, _, m in self.finish_log], axis=1)
            sizes = [m.shape[1] for _, _, m in self.finish_log]
            ids = done[ID].astype(np.int64)
            self.finish_s[ids] = np.repeat([now for now, _, _ in self.finish_log], sizes)
            self.steps[ids] = np.repeat([c for _, c, _ in self.finish_log], sizes) - done[START]
            self.accepted[ids] = done[ACCEPTED]
            self.rejected_steps[ids] = done[REJECTED]
        self.first_token_log, self.finish_log = [], []


def _distillers(cl: Cluster, scenario: Scenario) -> list[Distiller]:
    o = scenario.online
    everything = np.arange(cl.num_domains)
    if not scenario.draft_per_domain:
        return [Distiller("all", everything, cl.num_domains, o.update_interval, o.buffer_size)]
    return [Distiller(name, np.array([d]), cl.num_domains, o.update_interval, o.buffer_size)
            for d, name in enumerate(cl.domains)]


def _run_replicas(scenario: Scenario, cost, indices: list[int] | None = None):
    """Build the cluster and run the replicas in ``indices`` (all when None) to the end."""
    import simpy

    children = np.random.SeedSequence(scenario.seed).spawn(1 + scenario.replicas)
    reqs = workload.generate(scenario, np.random.default_rng(children[0]))
    cl = Cluster(scenario, reqs, cost if cost is not None else build_cost(scenario))
    env = simpy.Environment()
    indices = range(scenario.replicas) if indices is None else indices
    reps = [engine.Replica(r, cl, np.random.default_rng(children[1 + r])) for r in indices]
    if cl.online is not None:
        for rep in reps:
            rep.distillers = _distillers(cl, scenario)
    if cl.dispatched:
        env.process(engine.dispatcher(env, cl, reps))
    else:  # round robin, decided up front: request i goes to replica i mod N
        for rep in reps:
            ids = np.arange(rep.index, len(reqs), scenario.replicas, dtype=np.int64)
            rep.set_assigned(ids, cl.arrival[ids])
            cl.replica[ids] = rep.index
    for rep in reps:
        env.process(engine.replica(env, rep))
    env.run(until=scenario.horizon_s)
    return cl, reps, reqs, env.now


PER_REQUEST = ("first_token_s", "finish_s", "replica", "steps", "accepted", "rejected_steps", "rejected")


@dataclass
class _Part:
    """What a worker process sends back: its replicas' rows, per-request results and live batches."""

    step_rows: list
    update_rows: list
    ids: np.ndarray
    arrays: dict
    replicas: list  # SimpleNamespace(index, state, remaining, counter) per replica
    end_s: float


def _run_part(args) -> _Part:
    from types import SimpleNamespace

    scenario, cost, indices = args
    cl, reps, _, end_s = _run_replicas(scenario, cost, indices)
    cl.flush_logs()
    ids = np.flatnonzero(np.isin(cl.replica, indices))
    live = [SimpleNamespace(index=r.index, state=r.state, remaining=r.remaining, counter=r.counter) for r in reps]
    return _Part(cl.step_rows, cl.update_rows, ids, {k: getattr(cl, k)[ids] for k in PER_REQUEST}, live, end_s)


def _run_parallel(scenario: Scenario, cost, workers: int) -> SimResult:
    """Round-robin replicas share nothing, so groups of them run in separate processes; the
    merged tables are identical to a single-process run (rows are put in canonical order)."""
    import multiprocessing
    from types import SimpleNamespace

    groups = [list(range(w, scenario.replicas, workers)) for w in range(workers)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        parts = pool.map(_run_part, [(scenario, cost, g) for g in groups])
    children = np.random.SeedSequence(scenario.seed).spawn(1 + scenario.replicas)
    reqs = workload.generate(scenario, np.random.default_rng(children[0]))
    cl = Cluster(scenario, reqs, cost if cost is not None else build_cost(scenario))
    reps = []
    for part in parts:
        cl.step_rows += part.step_rows
        cl.update_rows += part.update_rows
        for name, values in part.arrays.items():
            getattr(cl, name)[part.ids] = values
        reps += [SimpleNamespace(ids=r.state[engine.ID].astype(np.int64), **vars(r)) for r in part.replicas]
    end_s = max(part.end_s for part in parts)
    return results.assemble(cl, sorted(reps, key=lambda r: r.index), reqs, end_s)


def run_once(scenario: Scenario, cost=None, workers: int = 1) -> SimResult:
    """Simulate ``scenario`` as given (no baseline). ``workers`` > 1 runs groups of replicas in
    separate processes when the router is round robin (they are independent); results are the
    same as with one process."""
    if workers > 1 and scenario.replicas > 1 and scenario.router == "round_robin":
        return _run_parallel(scenario, cost, min(workers, scenario.replicas))
    cl, reps, reqs, end_s = _run_replicas(scenario, cost)
    return results.assemble(cl, reps, reqs, end_s)


def simulate(scenario, cost=None, baseline: bool = True, overrides=(), workers: int = 1) -> SimResult:
    """Run a scenario (path, mapping or :class:`Scenario`) and, unless ``baseline`` is False,
    its plain-decoding baseline on the same requests; ``summary["speedup"]`` is baseline mean
    latency / mean latency. ``cost`` replaces the scenario's cost model (a CostModel; it must
    pickle when ``workers`` > 1). ``workers`` > 1 spreads round-robin replicas over processes."""
    scenario = load_scenario(scenario, overrides)
    result = run_once(scenario, cost, workers)
    result.scenario = scenario
    if baseline:
        base = run_once(scenario.plain(), cost, workers)
        result.summary["baseline"] = base.summary
        mine, theirs = result.summary["latency_mean_s"], base.summary["latency_mean_s"]
        result.summary["speedup"] = theirs / mine if mine and mine > 0 else math.nan
    return result
