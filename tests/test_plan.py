"""Capacity planning: the replica search and the planner on hand-computable stand-ins."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from osdsim.plan import SLO, candidates, min_replicas, parse_slo, plan


@given(st.integers(1, 500), st.integers(1, 600))
def test_min_replicas_finds_threshold(threshold, cap):
    calls = []

    def meets(n):
        calls.append(n)
        return n >= threshold

    got = min_replicas(meets, cap)
    assert got == (threshold if threshold <= cap else None)
    assert len(calls) <= 2 * math.ceil(math.log2(cap + 1)) + 2


def test_slo_parsing_and_checks():
    slo = parse_slo(["tpot_p99_s=0.05", "ttft_p99_s=2"])
    assert slo.bounds == {"tpot_p99_s": 0.05, "ttft_p99_s": 2.0}
    good = {"requests": 100, "finished": 100, "tpot_p99_s": 0.04, "ttft_p99_s": 1.0}
    assert slo.met_by(good)
    assert not slo.met_by({**good, "tpot_p99_s": 0.06})
    assert not slo.met_by({**good, "finished": 90})  # a backlog is not a met SLO
    for bad in (["tpot=0.1"], ["tpot_p99_s=x"], ["tpot_p99_s"], ["tpot_p99_s=-1"]):
        with pytest.raises(ValueError):
            parse_slo(bad)


def test_candidates_modes():
    base = {"draft": "llama-160m", "gamma": 5, "online": {"update_interval": 4}}
    cands = candidates(base, drafts=["llama-160m", "vicuna-68m"], gammas=[3, 5])
    modes = [c["mode"] for c in cands]
    assert modes.count("plain") == 1 and modes.count("spec") == 4 and modes.count("osd") == 4
    plain = cands[0]["scenario"]
    assert plain["draft"] is None and plain["gamma"] == 0 and "online" not in plain
    assert all("online" not in c["scenario"] for c in cands if c["mode"] == "spec")
    assert all(c["scenario"]["online"] == {"update_interval": 4} for c in cands if c["mode"] == "osd")


def test_plan_hand_computed():
    # A stand-in simulator: each replica serves `cap` requests/s; the TPOT p99 is fine while the
    # load per replica stays under capacity. Capacity per replica: plain 2, spec gamma g: 2 + g/2.
    # At 11 requests/s: plain needs ceil(11/2) = 6, gamma 3 needs ceil(11/3.5) = 4, gamma 5
    # needs ceil(11/4.5) = 3 replicas.
    def evaluate(scen):
        cap = 2.0 + scen["gamma"] / 2.0
        ok = scen["workload"]["rate"] / scen["replicas"] <= cap
        return {"requests": 100, "finished": 100, "tpot_p99_s": 0.01 if ok else 1.0, "throughput_tok_s": 1.0}

    base = {"workload": {"rate": 11.0}, "tp": 2}
    rows = plan(base, SLO({"tpot_p99_s": 0.05}), evaluate, modes=("plain", "spec"), gammas=[3, 5])
    got = {(r["mode"], r["gamma"]): r["replicas"] for r in rows}
    assert got == {("plain", 0): 6, ("spec", 3): 4, ("spec", 5): 3}
    best_spec = [r for r in rows if r["mode"] == "spec" and r["best"]]
    assert len(best_spec) == 1 and best_spec[0]["gamma"] == 5 and best_spec[0]["gpus"] == 6
    assert best_spec[0]["gpu_hours_per_day"] == 6 * 24


def test_plan_infeasible_reports_none():
    rows = plan({"workload": {"rate": 1.0}}, SLO({"tpot_p99_s": 0.05}),
                lambda s: {"requests": 1, "finished": 1, "tpot_p99_s": 1.0}, modes=("plain",), max_replicas=8)
    assert rows[0]["replicas"] is None and rows[0]["best"] is False


def test_plan_with_simulator_matches_hand_count(capsys, tmp_path):
    """Constant arrivals, batch 1, every forward 10 ms, 9 output tokens: the plan is ceil(λ·S).

    An idle replica serves one request in S = prefill (one forward, emits the first token) + 8
    decode forwards = 9 × 10 ms = 90 ms. Round robin hands each replica every N-th request, so
    a replica sees a gap of N/λ; there is no queueing, and the TTFT stays one forward, iff
    N/λ >= S. At λ = 50/s, λ·S = 4.5, so 5 replicas.
    """
    import json

    from osdsim.cli.main import main

    base = {
        "seed": 1, "draft": None, "gamma": 0, "max_batch": 1, "router": "round_robin",
        "cost": {"model": "constant", "forward_s": {"vicuna-7b-v1.3": 0.01}},
        "workload": {"arrival": "constant", "rate": 50.0, "num_requests": 400,
                     "prompt_tokens": 16, "output_tokens": 9},
    }
    from osdsim.sim import load_scenario, simulate

    one = simulate(load_scenario({**base, "workload": {**base["workload"], "num_requests": 1}}), baseline=False)
    service_s = float(one.requests["latency_s"].iloc[0])
    assert service_s == pytest.approx(0.09)
    rows = plan(base, SLO({"ttft_p99_s": 0.015}),
                lambda s: simulate(load_scenario(s), baseline=False).summary, modes=("plain",))
    assert rows[0]["replicas"] == math.ceil(50.0 * service_s) == 5

    import yaml

    capsys.readouterr()
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(base))
    assert main(["plan", str(path), "--slo", "ttft_p99_s=0.015", "--modes", "plain", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["rows"][0]["replicas"] == 5 and data["rows"][0]["gpus"] == 5


def test_slo_keys_are_the_summary_fields():
    """Every percentile of TTFT, TPOT, ITL and E2E latency is a key (p90 used to print '(no rows)')."""
    from osdsim.plan.search import SLO_KEYS
    from osdsim.sim.metrics import metric_keys

    assert set(SLO_KEYS) == set(metric_keys())
    for metric in ("ttft", "tpot", "itl", "latency"):
        for q in ("p50", "p90", "p95", "p99"):
            assert f"{metric}_{q}_s" in SLO_KEYS
    assert parse_slo(["e2e_p95_s=3"]).bounds == {"latency_p95_s": 3.0}
    with pytest.raises(ValueError, match="not one of"):
        parse_slo(["tpot_p98_s=0.1"])


def test_overloaded_setup_rejected_though_its_tpot_is_fine():
    """Vicuna-7B on one A100 at 40 req/s: every TPOT is well under 50 ms (a full batch still
    steps fast), but the replica serves ~24 req/s and the queue grows; the plan must not accept it."""
    from osdsim.sweep.runner import simulate_evaluator

    base = {"target": "vicuna-7b-v1.3", "draft": "llama-160m", "hardware": "a100-80g", "gamma": 5,
            "max_batch": 64, "acceptance": {"model": "constant", "alpha": 0.7},
            "workload": {"arrival": "poisson", "rate": 40.0, "num_requests": 600,
                         "prompt_tokens": {"dist": "lognormal", "mean": 256, "cv": 0.6},
                         "output_tokens": {"dist": "lognormal", "mean": 128, "cv": 0.5}}}
    one = simulate_evaluator({**base, "replicas": 1}, baseline=False)
    slo = SLO({"tpot_p99_s": 0.05})
    assert one["tpot_p99_s"] < 0.05  # a TPOT-only check would take one replica
    assert one["served_ratio"] < 0.8 and one["queue_growth_req_s"] > 5
    reasons = slo.violations(one)
    assert reasons and "served" in reasons[0] and "queue grows" in reasons[0]
    rows = plan(base, slo, lambda s: simulate_evaluator(s, baseline=False), modes=("spec",))
    assert rows[0]["replicas"] >= 2 and rows[0]["served_ratio"] >= 0.95


def test_plan_searches_tp_and_says_why_rows_were_rejected():
    def evaluate(scen):
        if scen["tp"] == 1:
            raise ValueError("tp: big-model does not fit on gpu: 141.1 GB of bf16 weights per GPU at tp 1")
        return {"requests": 10, "finished": 10, "tpot_p99_s": 0.01, "served_ratio": 1.0, "offered_req_s": 1.0,
                "queue_growth_req_s": 0.0}

    rows = plan({"workload": {"rate": 1.0}}, SLO({"tpot_p99_s": 0.05}), evaluate, modes=("plain", "spec"),
                tps=[1, 2, 4], draft_tps=[1, 2], gammas=[3])
    by = {(r["mode"], r["tp"], r["draft_tp"]): r for r in rows}
    assert "141.1 GB" in by[("plain", 1, None)]["reason"] and by[("plain", 1, None)]["replicas"] is None
    assert by[("plain", 2, None)]["gpus"] == 2 and by[("plain", 2, None)]["best"]
    assert by[("spec", 2, 1)]["gpus"] == 2 and by[("spec", 2, 2)]["reason"].startswith("cannot beat")
    assert by[("plain", 4, None)]["reason"] == "cannot beat 2 GPUs at tp 4"


def test_requests_that_never_fit_end_the_search_at_once():
    calls = []

    def evaluate(scen):
        calls.append(scen["replicas"])
        return {"requests": 10, "finished": 5, "dropped": 5, "tpot_p99_s": 0.01}

    rows = plan({"workload": {"rate": 1.0}}, SLO({"tpot_p99_s": 0.05}), evaluate, modes=("plain",))
    assert calls == [1] and "never fit" in rows[0]["reason"]


def test_plan_cli_prints_assumptions_and_rejections(capsys):
    from osdsim.cli.main import main

    assert main(["plan", "examples/scenarios/vicuna-a100.yaml", "--slo", "tpot_p90_s=0.05", "--rate", "4",
                 "--modes", "plain,spec", "--tp", "1,2", "--set", "workload.num_requests=60"]) == 0
    out = capsys.readouterr().out
    assert "(no rows)" not in out and "tpot_p90_s" in out
    assert "Assumed:" in out and "framework vllm-v1" in out and "constant alpha 0.7" in out
    assert "feasible: served rate >= 95%" in out
