"""Speculation methods as one axis: scenario ``method``/``methods``, sweeps and plans over them."""

from __future__ import annotations

import pytest

from osdsim.plan import SLO
from osdsim.plan.planner import candidates, plan
from osdsim.sim import load_scenario, simulate
from osdsim.sim.scenario_draft import DraftSpec
from osdsim.sim.scenario_methods import builtin_method, describe_method, expand_method
from osdsim.sweep.runner import evaluate_point

BASE = {"target": "vicuna-7b-v1.3", "hardware": "a100-80g", "framework": "vllm-v1", "max_batch": 32,
        "acceptance": {"alpha": 0.6}, "online": {"update_interval": 8},
        "workload": {"rate": 2.0, "num_requests": 60, "prompt_tokens": 128, "output_tokens": 64},
        "methods": {"small": {"draft": "llama-160m", "acceptance": {"alpha": 0.5}},
                    "head": {"draft": {"kind": "head", "style": "eagle"}, "acceptance": {"alpha": 0.8}},
                    "lookup": {"draft": {"kind": "ngram"}, "acceptance": {"alpha": 0.4}}}}


def test_builtin_methods_set_the_fields_they_name():
    assert builtin_method("plain") == {"draft": None, "gamma": 0, "online": None, "gamma_policy": None}
    assert builtin_method("model:llama-3.2-1b") == {"draft": "llama-3.2-1b"}
    assert builtin_method("self:8") == {"draft": {"kind": "self", "layers": 8}, "online": None}
    assert builtin_method("mtp") == {"draft": {"kind": "head", "style": "mtp"}}
    with pytest.raises(ValueError, match="self:K needs a positive number"):
        builtin_method("self:x")
    with pytest.raises(ValueError, match="neither under methods nor a built-in"):
        builtin_method("medusa-2")


def test_a_methods_fields_replace_the_scenarios_and_are_recorded():
    sc = load_scenario(dict(BASE, method="head"))
    assert isinstance(sc.draft, DraftSpec) and sc.draft.kind == "head" and sc.acceptance.alpha == 0.8
    assert sc.method == "head" and sc.online is not None  # a head can be distilled online
    lookup = load_scenario(dict(BASE, method="lookup"))
    assert lookup.draft.kind == "ngram" and lookup.online is None  # nothing to distil: online dropped
    plain = load_scenario(dict(BASE, method="plain"))
    assert plain.draft is None and plain.gamma == 0 and plain.online is None
    assert expand_method({"draft": "x", "methods": {}}) == {"draft": "x"}  # the section itself is not a field
    s = simulate(dict(BASE, method="small"), baseline=False).summary
    assert s["assumptions"]["method"] == "small" and s["assumptions"]["draft"] == "llama-160m"
    assert "constant alpha 0.5" in s["assumptions"]["acceptance"]
    assert describe_method(BASE, "head") == "head: head draft (eagle), its own acceptance {'alpha': 0.8}"


@pytest.mark.parametrize("methods, message", [
    ({"m": {"draft": "llama-160m", "workload": {}}}, r"methods\.m\.workload: a method sets only"),
    ({"m": "llama-160m"}, r"methods\.m must be a mapping"),
    ("eagle", "methods must be a mapping"),
])
def test_bad_methods_name_the_field(methods, message):
    with pytest.raises(ValueError, match=message):
        load_scenario(dict(BASE, methods=methods, method="m"))


def test_a_sweep_takes_the_method_as_an_axis():
    rows = [evaluate_point(BASE, {"method": m}, "simulate") for m in ("plain", "head", "lookup")]
    drafts = [r.get("assumptions.draft") for r in rows]
    assert drafts == [None, "eagle", "ngram"]
    assert rows[0]["speedup"] == pytest.approx(1.0) and rows[1]["speedup"] > rows[2]["speedup"] > 1.0


def test_plan_candidates_per_method_skip_what_cannot_apply():
    cands = candidates(BASE, modes=("plain", "spec", "osd"), gammas=[3, "goodput"], methods=["plain", "small", "lookup"],
                       policies=["fixed", "hf-heuristic"])
    got = {(c["mode"], c["method"], c["gamma"], c["gamma_policy"]) for c in cands}
    assert ("plain", "plain", 0, None) in got
    assert ("spec", "lookup", 3, "hf-heuristic") in got and ("osd", "lookup", 3, "fixed") not in got
    assert ("osd", "small", "goodput", "fixed") in got
    assert not any(c["gamma"] == "goodput" and c["gamma_policy"] == "hf-heuristic" for c in cands)
    assert sum(c["mode"] == "plain" for c in cands) == 1  # the plain method is the plain mode's one row


def test_plan_reports_the_best_set_up_of_each_method():
    evaluated = []

    def evaluate(scen):
        summary = evaluate_point(scen, {}, "simulate")
        evaluated.append(scen.get("method"))
        return summary

    slo = SLO({"tpot_p99_s": 0.05})
    rows = plan(BASE, slo, evaluate, modes=("plain", "spec"), gammas=[3], methods=["plain", "head", "lookup"],
                max_replicas=4)
    best = {r["method"]: r for r in rows if r["best"]}
    assert set(best) == {"plain", "head", "lookup"} and all(r["gpus"] == 1 for r in best.values())
    assert best["head"]["mean_alpha"] == pytest.approx(0.8, abs=0.05)
    assert {"head", "lookup", None} <= set(evaluated)  # plain rows carry no method


def _speedup(capsys, *args):
    import json

    from osdsim.cli.main import main

    code = main(["speedup", "--target", "llama-3.1-8b", "--hardware", "h100-sxm", "--json", *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else err)


def test_speedup_prices_draft_kinds_by_name_and_every_gamma_policy(capsys, tmp_path):
    from osdsim.cost import gamma_policy as gp
    from osdsim.trace import TraceWriter, new_meta

    code, head = _speedup(capsys, "--alpha", "0.7", "--draft", "eagle", "--gamma", "3")
    assert code == 0 and head["draft"] == "eagle-1" and head["tau"] == pytest.approx(gp.expected_tokens(0.7, 3))
    code, conf = _speedup(capsys, "--alpha", "0.7", "--draft", "llama-3.2-1b", "--policy", "confidence",
                          "--pass-rate", "0.8", "--alpha-passed", "0.9", "--gamma", "6")
    assert code == 0 and conf["tau"] == pytest.approx(1 + sum(0.72 ** i for i in range(1, 7)))
    # A trace's per-token confidences measure the pass rate at --p-min: 2 of 3 reached drafts pass.
    path = tmp_path / "t.jsonl"
    with TraceWriter(path, mode="w") as w:
        w("meta", **new_meta(target="t", draft="d", gamma=2, mode="greedy"))
        w("step", record=0, step=0, gamma=2, drafted=2, accepted=1, emitted=2, draft_s=0.1, verify_s=0.1,
          accepted_mask=[1, 0], confidence=[0.9, 0.8])
        w("step", record=0, step=1, gamma=2, drafted=2, accepted=0, emitted=1, draft_s=0.1, verify_s=0.1,
          accepted_mask=[0], confidence=[0.2, 0.9])
    code, measured = _speedup(capsys, "--alpha", "0.5", "--draft", "llama-3.2-1b", "--policy", "confidence",
                              "--trace", str(path), "--p-min", "0.5", "--gamma", "2")
    assert code == 0 and measured["confidence_measured"]["pass_rate"] == pytest.approx(2 / 3)
    assert measured["confidence_measured"]["alpha_passed"] == pytest.approx(1 / 2)
    code, err = _speedup(capsys, "--alpha", "0.7", "--draft", "llama-3.2-1b", "--policy", "confidence")
    assert code == 2 and "--pass-rate" in err


def test_the_methods_example_reproduces_spec_benchs_published_tau():
    """examples/scenarios/methods-vicuna-a100.yaml: each method's α gives the τ Spec-Bench published
    for it (A100 leaderboard, Vicuna-7B; rows specbench-014/042/060/068)."""
    from osdsim.cost import gamma_policy as gp
    from osdsim.cost import tree as trees
    from osdsim.sim.scenario_files import read_scenario_file

    raw = read_scenario_file("examples/scenarios/methods-vicuna-a100.yaml")
    alpha = {name: m["acceptance"]["alpha"] for name, m in raw["methods"].items()}

    def tree_tau(name, a):
        nodes = trees.named(name)
        return trees.tau(nodes, trees.rank_acceptance(a, trees.depth(nodes), max(n[-1] for n in nodes)))

    assert gp.policy_rate(alpha["sps-68m"], lambda g: 1.0, "hf-heuristic", 5)[0] == pytest.approx(2.28, abs=0.005)
    assert tree_tau("eagle-mc_sim_7b_63", alpha["eagle-tree"]) == pytest.approx(3.61, abs=0.005)
    assert tree_tau("medusa-mc_sim_7b_63", alpha["medusa-tree"]) == pytest.approx(2.32, abs=0.005)
    assert gp.expected_tokens(alpha["pld"], 10) == pytest.approx(1.73, abs=0.005)
    assert alpha["eagle"] == alpha["eagle-tree"]
