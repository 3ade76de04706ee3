"""What the replicas of one simulation share: the requests, the prices, the acceptance model,
and the logs and per-request arrays the engine fills (turned into tables by
:mod:`osdsim.sim.results`)."""

from __future__ import annotations

import itertools
import math
from array import array

import numpy as np

from osdsim.acceptance import (
    ConstantAcceptance,
    EmpiricalAcceptance,
    LearningCurveAcceptance,
    PerPositionAcceptance,
)
from osdsim.sim import workload
from osdsim.sim.batch import DRAWN, ID, REJECTED, START
from osdsim.sim.distiller import Distiller
from osdsim.sim.pricing import Pricer, draft_parallelism, kv_tokens, models
from osdsim.sim.scenario import Scenario

MAX_COUNT = 2.0**53  # per-sequence counters are float64 holding integers: exact below this


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

    def __init__(self, scenario: Scenario, reqs: workload.Requests, cost, acceptance=None):
        target, draft = models(scenario)
        self.scenario = scenario
        draft_tp = draft_parallelism(scenario, draft)
        draft_cost = cost.for_draft(draft_tp, scenario.draft_dtype) if hasattr(cost, "for_draft") else cost
        self.pricer = Pricer(cost, target, draft, scenario.context_bucket, draft_cost)
        self.acceptance_given = acceptance is not None
        if not scenario.speculative:
            self.acceptance = None
        else:
            self.acceptance = acceptance if acceptance is not None else build_acceptance(scenario)
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
        if n and float(self.output.max()) * (scenario.max_gamma + 2) >= MAX_COUNT:
            raise ValueError("workload: output_tokens too large for the simulator's exact step counters")
        self.domain = reqs.domain
        self.kv_need = self.prompt + self.output
        # Python lists for scalar access in the engine (numpy scalar indexing is slow).
        self.prompt_l, self.output_l = self.prompt.tolist(), self.output.tolist()
        self.domain_l, self.kv_need_l = self.domain.tolist(), self.kv_need.tolist()
        self.drawn0_l = (1.0 - self.output).tolist()  # a joining sequence's DRAWN (see sim.batch)
        self.first_token_log: list[tuple[float, list[int]]] = []
        self.finish_log: list[tuple[float, int, np.ndarray]] = []
        self.first_token_s = np.full(n, math.nan)
        self.finish_s = np.full(n, math.nan)
        self.replica = np.full(n, -1, dtype=np.int64)
        self.steps = np.zeros(n)
        self.accepted = np.zeros(n)
        self.rejected_steps = np.zeros(n)
        self.rejected = np.zeros(n, dtype=bool)  # could never fit in the KV cache
        # One iteration's row after another, flat, as float64 (results.STEP_COLUMNS).
        self.step_rows = array("d")
        self.update_rows: list[tuple] = []
        self.dispatched = scenario.router == "least_outstanding" and scenario.replicas > 1
        self.dispatch_done = False

    def distillers(self) -> list[Distiller]:
        """One replica's distillers: one draft for all domains, or one per domain."""
        o = self.scenario.online
        if o is None or self.online is None:
            return []
        if not self.scenario.draft_per_domain:
            return [Distiller("all", np.arange(self.num_domains), self.num_domains, o.update_interval,
                              o.buffer_size)]
        return [Distiller(name, np.array([d]), self.num_domains, o.update_interval, o.buffer_size)
                for d, name in enumerate(self.domains)]

    def flush_logs(self) -> None:
        """Fill the per-request arrays from the engine's first-token and finish logs."""
        if self.first_token_log:
            times, id_lists = zip(*self.first_token_log)
            ids = np.fromiter(itertools.chain.from_iterable(id_lists), dtype=np.int64)
            self.first_token_s[ids] = np.repeat(times, list(map(len, id_lists)))
        if self.finish_log:
            times, counters, rows = zip(*self.finish_log)
            done = np.concatenate(rows, axis=0)
            sizes = list(map(len, rows))
            ids = done[:, ID].astype(np.int64)
            steps = np.repeat(counters, sizes) - done[:, START]
            self.finish_s[ids] = np.repeat(times, sizes)
            self.steps[ids] = steps
            # Drawn tokens = output − 1 (after the prefill's) + overshoot = steps + accepted drafts.
            self.accepted[ids] = self.output[ids] - 1.0 + done[:, DRAWN] - steps
            self.rejected_steps[ids] = done[:, REJECTED]
        self.first_token_log, self.finish_log = [], []
