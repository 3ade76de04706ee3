"""``simulate(scenario)``: build the cluster, run SimPy, return DataFrames and a summary.

Randomness: one ``numpy.random.SeedSequence(seed)`` spawns fixed children — the workload first,
then one per replica for acceptance sampling — so a scenario and its plain-decoding baseline
see the very same requests, and the same seed gives the same DataFrames bit for bit.
"""

from __future__ import annotations

import gc
import itertools
import math
from array import array
from contextlib import contextmanager
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
        # The engine packs rejections and tokens left into one float per sequence: Y = rejections
        # − pack·remaining, exact while every count stays below 2^53 (see osdsim.sim.replica).
        top = max(int(self.output.max()) if n else 1, self.max_batch) + 2
        self.pack = float(1 << top.bit_length())
        gamma_max = max(scenario.max_gamma, scenario.gamma if isinstance(scenario.gamma, int) else 0)
        if self.pack * max(top + gamma_max + 2, (self.max_batch + 1) * (gamma_max + 2)) >= 2.0**53:
            raise ValueError("workload: output_tokens too large for the simulator's exact step counters")
        # Y of a joining request (its first token came from the prefill): −pack·(output − 1).
        self.y0_l = (self.pack * (1.0 - self.output)).tolist()
        self.finish_log: list[tuple[float, int, np.ndarray]] = []
        self.first_token_s = np.full(n, math.nan)
        self.finish_s = np.full(n, math.nan)
        self.replica = np.full(n, -1, dtype=np.int64)
        self.steps = np.zeros(n)
        self.accepted = np.zeros(n)
        self.rejected_steps = np.zeros(n)
        self.rejected = np.zeros(n, dtype=bool)  # could never fit in the KV cache

        # One iteration's row after another, flat, as float64 (results.STEP_COLUMNS), and for the
        # columns whose Python values may be int or float, whether every value so far was an int.
        self.step_rows = array("d")
        self.int_columns = {"time_s": True, "prompt_tokens": True}
        self.update_rows: list[tuple] = []
        self.dispatched = scenario.router == "least_outstanding" and scenario.replicas > 1
        self.dispatch_done = False

    def flush_logs(self) -> None:
        """Fill the per-request arrays from the engine's first-token and finish logs."""
        from osdsim.sim.engine import ID, START, Y

        if self.first_token_log:
            times = np.repeat([now for now, _ in self.first_token_log], [len(ids) for _, ids in self.first_token_log])
            ids = np.fromiter(itertools.chain.from_iterable(ids for _, ids in self.first_token_log), dtype=np.int64)
            self.first_token_s[ids] = times
        if self.finish_log:
            done = np.concatenate([m for _, _, m in self.finish_log], axis=0)
            sizes = [len(m) for _, _, m in self.finish_log]
            ids = done[:, ID].astype(np.int64)
            steps = np.repeat([c for _, c, _ in self.finish_log], sizes) - done[:, START]
            over = np.floor(done[:, Y] / self.pack)  # tokens the last step drew beyond the output
            self.finish_s[ids] = np.repeat([now for now, _, _ in self.finish_log], sizes)
            self.steps[ids] = steps
            self.accepted[ids] = self.output[ids] - 1.0 + over - steps
            self.rejected_steps[ids] = done[:, Y] - self.pack * over
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
    children = np.random.SeedSequence(scenario.seed).spawn(1 + scenario.replicas)
    reqs = workload.generate(scenario, np.random.default_rng(children[0]))
    cl = Cluster(scenario, reqs, cost if cost is not None else build_cost(scenario))
    indices = range(scenario.replicas) if indices is None else indices
    reps = [engine.Replica(r, cl, np.random.default_rng(children[1 + r])) for r in indices]
    if cl.online is not None:
        for rep in reps:
            rep.distillers = _distillers(cl, scenario)
    if cl.dispatched:  # least outstanding: the dispatcher couples the replicas, SimPy orders events
        import simpy

        env = simpy.Environment()
        env.process(engine.dispatcher(env, cl, reps))
        for rep in reps:
            env.process(engine.simpy_replica(env, rep))
        env.run(until=scenario.horizon_s)
        for rep in reps:  # a replica stopped mid-iteration by the horizon writes its state back
            rep.serving.close()
        return cl, reps, reqs, env.now
    # Round robin, decided up front (request i goes to replica i mod N): the replicas share
    # nothing, so each runs to its end in turn; the tables are put in canonical order later.
    end_s = 0
    for rep in reps:
        ids = np.arange(rep.index, len(reqs), scenario.replicas, dtype=np.int64)
        rep.set_assigned(ids, cl.arrival[ids])
        cl.replica[ids] = rep.index
    for rep in reps:
        end_s = max(end_s, engine.run_alone(rep, scenario.horizon_s))
    if scenario.horizon_s is not None:  # SimPy's clock stops at the horizon
        end_s = float(scenario.horizon_s)
    return cl, reps, reqs, end_s


PER_REQUEST = ("first_token_s", "finish_s", "replica", "steps", "accepted", "rejected_steps", "rejected")


@dataclass
class _Part:
    """What a worker process sends back: its replicas' rows, per-request results and live batches."""

    step_rows: array
    int_columns: dict
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
    scenario, cost, indices = args
    with _no_cycle_collection():
        return _run_part_now(scenario, cost, indices)


def _run_part_now(scenario: Scenario, cost, indices: list[int]) -> _Part:
    cl, reps, _, end_s = _run_replicas(scenario, cost, indices)
    cl.flush_logs()
    ids = np.flatnonzero(np.isin(cl.replica, indices))
    live = [r.live() for r in reps]
    return _Part(cl.step_rows, cl.int_columns, cl.update_rows, ids, {k: getattr(cl, k)[ids] for k in PER_REQUEST},
                 live, end_s)


def _run_parallel(scenario: Scenario, cost, workers: int) -> SimResult:
    """Round-robin replicas share nothing, so groups of them run in separate processes; the
    merged tables are identical to a single-process run (rows are put in canonical order)."""
    import multiprocessing

    groups = [list(range(w, scenario.replicas, workers)) for w in range(workers)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        parts = pool.map(_run_part, [(scenario, cost, g) for g in groups])
    children = np.random.SeedSequence(scenario.seed).spawn(1 + scenario.replicas)
    reqs = workload.generate(scenario, np.random.default_rng(children[0]))
    cl = Cluster(scenario, reqs, cost if cost is not None else build_cost(scenario))
    lives = []
    for part in parts:
        cl.step_rows += part.step_rows
        cl.int_columns = {k: v and part.int_columns[k] for k, v in cl.int_columns.items()}
        cl.update_rows += part.update_rows
        for name, values in part.arrays.items():
            getattr(cl, name)[part.ids] = values
        lives += part.replicas
    end_s = max(part.end_s for part in parts)
    return results.assemble(cl, lives, reqs, end_s, scenario.replicas)


def run_once(scenario: Scenario, cost=None, workers: int = 1) -> SimResult:
    """Simulate ``scenario`` as given (no baseline). ``workers`` > 1 runs groups of replicas in
    separate processes when the router is round robin (they are independent); results are the
    same as with one process."""
    with _no_cycle_collection():
        if workers > 1 and scenario.replicas > 1 and scenario.router == "round_robin":
            return _run_parallel(scenario, cost, min(workers, scenario.replicas))
        cl, reps, reqs, end_s = _run_replicas(scenario, cost)
        return results.assemble(cl, [r.live() for r in reps], reqs, end_s, len(reps))


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
