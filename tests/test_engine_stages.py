"""The engine's stages one at a time (docs/architecture.md, "The engine's stages"): admission,
prefill plans, γ policies, pricing, drawing, applying, retiring and the distiller's modes, each
against a hand-computed case."""

from __future__ import annotations

import math

import numpy as np
import pytest

from osdsim.acceptance import geometric_scale
from osdsim.cost import ConstantCost
from osdsim.sim.batch import DRAWN, REJECTED, RunningBatch
from osdsim.sim.cluster import Cluster
from osdsim.sim.distiller import Distiller, ExclusiveMode, SpareMode, Update
from osdsim.sim.draws import IidDraws
from osdsim.sim.loop import idle_until, start_update
from osdsim.sim.policies import ChunkedPrefill, FifoAdmission, GoodputGamma, WholePrefill
from osdsim.sim.replica import Replica
from osdsim.sim.scenario import load_scenario
from osdsim.sim.workload import Requests

COST = ConstantCost({"vicuna-7b-v1.3": 0.02, "llama-160m": 0.002})


def replica(prompts, outputs, **scenario) -> Replica:
    n = len(prompts)
    reqs = Requests(np.zeros(n), np.asarray(prompts), np.asarray(outputs), np.zeros(n, dtype=np.int64), ("default",))
    sc = load_scenario({"gamma": 2, "max_batch": 3, "kv_tokens": 1000, **scenario})
    return Replica(0, Cluster(sc, reqs, COST), np.random.default_rng(0))


def test_admission_fifo_within_batch_and_kv():
    rep = replica([100, 500, 300, 10, 10], [100, 500, 100, 10, 10])
    rep.waiting.extend(range(5))
    admitted, prompts = FifoAdmission(rep.cl).admit(rep)
    # Request 1 needs 1,000 KV tokens: it fits alone but not after request 0 (200): admission stops
    # there, first come first served (request 3 does not jump the queue).
    assert admitted == [0] and prompts == 100 and rep.kv_used == 200 and list(rep.waiting) == [1, 2, 3, 4]
    big = replica([900], [200])
    big.waiting.append(0)
    assert FifoAdmission(big.cl).admit(big) == ([], 0) and big.cl.rejected[0]  # 1,100 > 1,000: never fits, dropped


def test_prefill_plans():
    assert WholePrefill().plan([3, 4], 160.0) == ([3, 4], 2, 160.0)
    chunked = ChunkedPrefill(100, [0.0, 70.0, 50.0])
    # 70 + 30 of 50 this iteration; the rest (20) next time, with nothing new.
    assert chunked.plan([1, 2], 120.0) == ([1], 2, 100)
    assert chunked.plan([], 0) == ([2], 1, 20)


def test_goodput_picks_the_best_tokens_per_second():
    rep = replica([10], [50], gamma="goodput", max_gamma=4, acceptance={"alpha": 0.6})
    rep.ctx_sum = 100.0
    # Constant costs: a step of γ drafts costs 0.02 + 0.002γ s and yields τ(0.6, γ) tokens.
    rates = [(1 - 0.6 ** (g + 1)) / 0.4 / (0.02 + 0.002 * g) for g in range(5)]
    assert isinstance(rep.gamma, GoodputGamma)
    assert rep.gamma.choose(rep, 1) == int(np.argmax(rates)) == 3  # 83.7 tokens/s at γ 3


def test_pricer_step_and_prefill():
    rep = replica([10], [50])
    assert rep.cl.pricer.step(4, 2, 100.0) == pytest.approx((0.02 + 2 * 0.002, COST.forward_flops(
        rep.cl.pricer.target, 4, 3, 96) + 2 * COST.forward_flops(rep.cl.pricer.draft.model, 4, 1, 96)))
    assert rep.cl.pricer.prefill(2, 64)[0] == pytest.approx(0.02 + 0.002)


def test_iid_draws_are_floor_of_exponential_times_scale():
    rng_a, rng_b = np.random.default_rng(7), np.random.default_rng(7)
    b = RunningBatch(8)
    scales = [geometric_scale(a) for a in (0.2, 0.5, 0.9, 0.99)]
    b.matrix[:4, 2] = scales
    b.n = 4
    got = IidDraws(rng_a).accepted(4, b.views[4], 3)
    e = rng_b.standard_exponential(1 << 16)[:4]
    assert got.tolist() == [int(x) for x in e * np.array(scales)]  # capped at γ later, by the table


def test_batch_advance_and_retire_by_hand():
    b = RunningBatch(4)
    b.matrix[:3, :6] = [(-2, 0, 1, 0, 10, 0), (-5, 0, 1, 0, 11, 0), (0, 0, 1, 0, 12, 0)]  # 2, 5, 0 tokens to go
    b.n = 3
    drawn, rejected = b.advance(np.array([1, 9, 0], dtype=np.intp), 2)  # 9 is capped at γ = 2
    assert (drawn, rejected) == (2 + 3 + 1, 2)
    assert b.matrix[:3, DRAWN].tolist() == [0.0, -2.0, 1.0] and b.matrix[:3, REJECTED].tolist() == [1, 0, 1]
    assert b.any_finished()
    done = b.retire_finished()
    assert done[:, 4].tolist() == [10, 12] and b.n == 1 and b.matrix[0, 4] == 11


def test_join_and_retire_keep_the_batchs_sums():
    rep = replica([100, 200], [1, 3], acceptance={"alpha": 0.5})
    rep.kv_used = 304.0
    first, at_once = rep.join([0, 1], now=1.0)
    assert (first, at_once) == (2, True)  # request 0 has a one-token output: finished at its prefill
    assert rep.ctx_sum == 100 + 200 + 2 and rep.alpha_sum == pytest.approx(1.0)
    assert rep.batch.any_finished()
    assert rep.retire(now=1.0) == 0.0
    assert rep.batch.n == 1 and rep.kv_used == 304 - 101 and rep.ctx_sum == 302 - 101
    assert rep.alpha_sum == pytest.approx(0.5)


def test_spare_mode_charges_idle_flops_then_stalls():
    spare = SpareMode(interference=0.5, capacity_flops_per_s=100.0)
    u = Update(Distiller("all", np.array([0]), 1, 8, 10), 0.0, 1.0, 90.0, 90.0, 5, [8])
    # A 0.4 s step using 20 FLOPs, slowed by half: 0.6 s, 60 − 20 = 40 FLOPs spare for the update.
    assert spare.charge_step(u, 0.0, 0.4, 20.0) == (pytest.approx(0.6), 0.0)
    assert u.flops_left == pytest.approx(50.0)
    # The next step ends past min_end_s with 50 − 40 = 10 FLOPs owed: they run exclusively.
    seconds, stall = spare.charge_step(u, 0.6, 0.4, 20.0)
    assert stall == pytest.approx(0.1) and seconds == pytest.approx(0.7) and u.flops_left == 0.0
    assert ExclusiveMode(0.0, 1.0).exclusive and not spare.exclusive


def test_idle_step_and_exclusive_update():
    rep = replica([10], [5], online={"update_interval": 1, "mode": "exclusive"},
                  acceptance={"model": "learning_curve", "domains": {"default": {"alpha0": 0.3, "alpha_inf": 0.8,
                                                                                 "scale": 5}}})
    rep.distillers = rep.cl.distillers()
    rep.set_assigned(np.array([0]), np.array([2.0]))
    assert rep.build(0.0) is None and idle_until(rep, 0.0) == 2.0  # nothing until the arrival at 2 s
    rep.pull_arrivals(2.0)
    it = rep.build(2.0)
    assert it.joining == [0] and rep.price(it, 2.0) == pytest.approx(0.022)  # the prefill of target and draft
    rep.distillers[0].pending = 1
    assert start_update(rep, 3.0)  # exclusive: serving waits for it
    assert rep.update.min_end_s >= 3.0 and not math.isnan(rep.update.min_end_s)


def test_registries_name_every_policy_the_scenario_accepts():
    from osdsim.sim.distiller import DISTILLER_MODES
    from osdsim.sim.policies import GAMMA_POLICIES, PREFILLS
    from osdsim.sim.routing import ROUTERS
    from osdsim.sim.scenario import ROUTERS as ROUTER_NAMES

    assert set(ROUTERS) == set(ROUTER_NAMES)
    assert set(DISTILLER_MODES) == {"spare", "exclusive"}
    from osdsim.sim.scenario_draft import POLICY_KINDS

    assert set(GAMMA_POLICIES) == set(POLICY_KINDS) and set(PREFILLS) == {"whole", "chunked"}


def test_simulate_takes_objects_instead_of_names():
    from osdsim.acceptance import ConstantAcceptance
    from osdsim.sim import simulate
    from osdsim.specs import load_hardware, load_model

    base = {"workload": {"num_requests": 40, "rate": 4.0}}
    by_name = simulate(dict(base, acceptance={"alpha": 0.55})).summary
    by_object = simulate(dict(base, target=load_model("vicuna-7b-v1.3"), draft=load_model("llama-160m"),
                              hardware=load_hardware("a100-80g")), acceptance=ConstantAcceptance(0.55)).summary
    assert by_object["speedup"] == by_name["speedup"] and by_object["tpot_p99_s"] == by_name["tpot_p99_s"]
    assert by_object["assumptions"]["target"] == "vicuna-7b-v1.3"
    assert by_object["assumptions"]["acceptance"] == "ConstantAcceptance given, alpha 0.55"
