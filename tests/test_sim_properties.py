"""Property tests: any small valid scenario runs to completion and conserves requests and tokens."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from osdsim.sim import simulate

scenarios = st.fixed_dictionaries({
    "seed": st.integers(0, 2**31),
    "replicas": st.integers(1, 3),
    "max_batch": st.integers(1, 8),
    "gamma": st.one_of(st.integers(0, 6), st.just("goodput")),
    "max_gamma": st.integers(1, 6),
    "router": st.sampled_from(["round_robin", "least_outstanding"]),
    "prefill_chunk": st.one_of(st.none(), st.integers(8, 300)),
    "kv_tokens": st.one_of(st.none(), st.floats(200, 5000)),
    "workload": st.fixed_dictionaries({
        "arrival": st.sampled_from(["poisson", "gamma", "constant"]),
        "cv": st.floats(0.2, 4.0),
        "rate": st.floats(0.5, 200.0),
        "num_requests": st.integers(1, 25),
        "prompt_tokens": st.one_of(st.integers(1, 300),
                                   st.fixed_dictionaries({"dist": st.just("lognormal"), "mean": st.floats(2, 300),
                                                          "cv": st.floats(0, 2)})),
        "output_tokens": st.one_of(st.integers(1, 200),
                                   st.fixed_dictionaries({"dist": st.just("uniform"), "low": st.integers(1, 5),
                                                          "high": st.integers(5, 150)})),
        "domains": st.sampled_from([["a"], ["a", "b"]]),
    }),
    "acceptance": st.one_of(
        st.fixed_dictionaries({"alpha": st.floats(0.0, 1.0)}),
        st.fixed_dictionaries({"model": st.just("per_position"),
                               "alphas": st.lists(st.floats(0.0, 1.0), min_size=1, max_size=4)}),
        st.fixed_dictionaries({"model": st.just("learning_curve"), "domains": st.just(
            {"a": {"alpha0": 0.2, "alpha_inf": 0.9, "scale": 3.0}, "b": {"alpha0": 0.5, "alpha_inf": 0.6, "scale": 1.0}})})),
    "draft_per_domain": st.booleans(),
    "online": st.one_of(st.none(), st.fixed_dictionaries({
        "update_interval": st.integers(1, 5), "mode": st.sampled_from(["spare", "exclusive"]),
        "interference": st.floats(0.0, 0.5)})),
})


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios)
def test_any_small_scenario_conserves_requests_and_tokens(scenario):
    result = simulate(scenario)
    req, steps, s = result.requests, result.steps, result.summary
    assert s["requests"] == len(req) == scenario["workload"]["num_requests"]
    assert s["finished"] + s["dropped"] == s["requests"]  # no horizon: everything that fits finishes
    fin = req[req["finished"]]
    assert (fin["emitted_tokens"] == fin["output_tokens"]).all()
    assert steps["tokens"].sum() == req["emitted_tokens"].sum()
    assert (fin["latency_s"] >= fin["ttft_s"]).all() and (fin["ttft_s"] > 0).all()
    assert (steps["batch"] <= scenario["max_batch"]).all()
    assert np.isfinite(s["baseline"]["latency_mean_s"]) or s["baseline"]["finished"] == 0


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios, horizon=st.floats(0.01, 5.0))
def test_a_horizon_reports_what_did_not_finish(scenario, horizon):
    result = simulate(dict(scenario, horizon_s=horizon), baseline=False)
    req, s = result.requests, result.summary
    assert (req["arrival_s"] <= horizon).all() and s["sim_time_s"] <= horizon + 1e-9
    assert s["finished"] + s["unfinished"] == s["requests"] == len(req)
    assert (req["emitted_tokens"] <= req["output_tokens"]).all()
    assert result.steps["tokens"].sum() == req["emitted_tokens"].sum()
    assert req.loc[~req["finished"], "latency_s"].isna().all()
