"""Scenario files: defaults, YAML/TOML parity, overrides, and errors that name the bad field."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from osdsim.sim.scenario import Scenario, apply_overrides, load_scenario
from osdsim.sim.scenario_files import parse_overrides

EXAMPLES = sorted((Path(__file__).parent.parent / "examples" / "scenarios").glob("*.*"))


def test_empty_scenario_takes_every_default():
    s = load_scenario({})
    assert s == Scenario()
    assert (s.target, s.draft, s.hardware, s.gamma, s.workload.rate) == ("vicuna-7b-v1.3", "llama-160m",
                                                                          "a100-80g", 5, 2.0)
    assert s.online is None and s.speculative


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_load(path):
    s = load_scenario(path)
    assert s.base_dir == str(path.parent)


def test_yaml_and_toml_give_the_same_scenario(tmp_path):
    (tmp_path / "a.yaml").write_text(
        "seed: 3\ngamma: goodput\ndraft: null\nworkload:\n  rate: 5\n"
        "  output_tokens: {dist: lognormal, mean: 100, cv: 0.5}\n  domains: [x, y]\n"
        "  schedule: {kind: blocks, block_records: 10}\nonline: null\n")
    (tmp_path / "a.toml").write_text(
        'seed = 3\ngamma = "goodput"\n[workload]\nrate = 5\n'
        'output_tokens = {dist = "lognormal", mean = 100, cv = 0.5}\ndomains = ["x", "y"]\n'
        'schedule = {kind = "blocks", block_records = 10}\n')
    a, b = load_scenario(tmp_path / "a.yaml"), load_scenario(tmp_path / "a.toml")
    assert a.workload == b.workload and a.gamma == b.gamma == "goodput" and a.draft is None
    assert b.draft == "llama-160m"  # TOML has no null: an absent field keeps its default


def test_overrides_use_dotted_paths_and_yaml_values():
    s = load_scenario({"workload": {"rate": 1}}, ["workload.rate=5", "draft=null"])
    assert s.workload.rate == 5.0 and s.draft is None
    raw = apply_overrides({}, parse_overrides(["online.update_interval=4"]))
    assert raw == {"online": {"update_interval": 4}}
    assert apply_overrides({}, {"workload.file": "1:30"}) == {"workload": {"file": "1:30"}}  # typed: no re-read
    with pytest.raises(ValueError, match="key=value"):
        load_scenario({}, ["workload.rate"])


@pytest.mark.parametrize(("raw", "field"), [
    ({"bogus": 1}, "bogus"),
    ({"workload": {"rat": 2}}, "workload.rat"),
    ({"workload": {"rate": -1}}, "workload.rate"),
    ({"workload": {"rate": "fast"}}, "workload.rate"),
    ({"workload": {"arrival": "weibull"}}, "workload.arrival"),
    ({"workload": {"num_requests": 0}}, "workload.num_requests"),
    ({"workload": {"output_tokens": {"dist": "zipf"}}}, "workload.output_tokens.dist"),
    ({"workload": {"prompt_tokens": {"dist": "lognormal", "mean": 10, "sigma": 1}}}, "workload.prompt_tokens.sigma"),
    ({"workload": {"domains": ["a", "b"], "schedule": {"kind": "mix", "weights": [1]}}}, "workload.schedule.weights"),
    ({"gamma": "fast"}, "gamma"),
    ({"gamma": -1}, "gamma"),
    ({"gamma": 2.5}, "gamma"),
    ({"replicas": 0}, "replicas"),
    ({"router": "random"}, "router"),
    ({"acceptance": {"model": "oracle"}}, "acceptance.model"),
    ({"acceptance": {"alpha": 1.5}}, "acceptance.alpha"),
    ({"acceptance": {"model": "per_position"}}, "acceptance.alphas"),
    ({"acceptance": {"model": "learning_curve"}}, "acceptance.curves"),
    ({"online": {"mode": "sometimes"}}, "online.mode"),
    ({"online": {"update_interval": 0}}, "online.update_interval"),
    ({"online": {"interval": 8}}, "online.interval"),
    ({"online": {"update_interval": 8}, "draft": None}, "online"),
    ({"cost": {"model": "constant"}}, "cost.forward_s"),
    ({"slo": {"ttft_s": 0}}, "slo.ttft_s"),
    ({"draft_per_domain": "yes"}, "draft_per_domain"),
    ({"dtype": "fp7"}, "dtype"),
])
def test_bad_field_is_named(raw, field):
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        load_scenario(raw)


def test_bad_files(tmp_path):
    (tmp_path / "bad.yaml").write_text("seed: [1\n")
    with pytest.raises(ValueError, match="YAML"):
        load_scenario(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ValueError, match="mapping"):
        load_scenario(tmp_path / "list.yaml")
    (tmp_path / "bad.toml").write_text("seed = \n")
    with pytest.raises(ValueError, match="TOML"):
        load_scenario(tmp_path / "bad.toml")


_NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)


@settings(max_examples=80, deadline=None)
@given(key=_NAMES, section=st.sampled_from(["", "workload", "acceptance", "online", "cost", "slo"]))
def test_unknown_keys_are_always_rejected_by_name(key, section):
    known = {"", "workload", "acceptance", "online", "cost", "slo"}
    from dataclasses import fields

    from osdsim.sim import scenario as sc

    cls = {"": sc.Scenario, "workload": sc.Workload, "acceptance": sc.AcceptanceSpec,
           "online": sc.Online, "cost": sc.CostSpec, "slo": sc.Slo}[section]
    if key in {f.name for f in fields(cls)} or key in known or key == "base_dir":
        return
    raw = {key: 1} if not section else {section: {key: 1}}
    with pytest.raises(ValueError, match=f"{section + '.' if section else ''}{key} is not a scenario field"):
        load_scenario(raw)


@settings(max_examples=60, deadline=None)
@given(rate=st.floats(0.001, 1e4), n=st.integers(1, 10**6), gamma=st.integers(0, 16),
       alpha=st.floats(0.0, 1.0), seed=st.integers(0, 2**31))
def test_valid_values_round_trip(rate, n, gamma, alpha, seed):
    s = load_scenario({"seed": seed, "gamma": gamma, "workload": {"rate": rate, "num_requests": n},
                       "acceptance": {"alpha": alpha}})
    assert (s.seed, s.gamma, s.workload.rate, s.workload.num_requests, s.acceptance.alpha) == (
        seed, gamma, rate, n, alpha)


def test_toml_can_say_plain_decoding(tmp_path):
    (tmp_path / "plain.toml").write_text('draft = "none"\n[online]\n')
    with pytest.raises(ValueError, match="online"):  # online without a draft
        load_scenario(tmp_path / "plain.toml")
    (tmp_path / "plain.toml").write_text('draft = false\n')
    s = load_scenario(tmp_path / "plain.toml")
    assert s.draft is None and not s.speculative


def test_replay_needs_a_file_or_given_requests():
    import pandas as pd

    from osdsim.sim import simulate

    with pytest.raises(ValueError, match="workload.file is required"):
        simulate({"workload": {"arrival": "replay"}})
    table = pd.DataFrame({"arrival_s": [0.0, 1.0], "prompt_tokens": [8, 8], "output_tokens": [4, 6]})
    res = simulate({"workload": {"arrival": "replay"}}, requests=table)
    assert res.summary["finished"] == 2 and res.requests["output_tokens"].tolist() == [4, 6]
