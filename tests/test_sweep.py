"""Sweeps: axis parsing, grids, identical rows across backends, resume equals uninterrupted."""

import json

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from osdsim.cli.main import main
from osdsim.sweep import (
    apply_overrides,
    grid_points,
    parse_axis,
    point_id,
    random_points,
    run_sweep,
)
from osdsim.sweep.files import journal_path
from osdsim.sweep.grid import ALIASES

BASE = {"target": "vicuna-7b-v1.3", "draft": "llama-160m", "hardware": "a100-80g"}


def test_parse_axis_forms():
    assert parse_axis("alpha=0.5,0.7") == ("acceptance.alpha", [0.5, 0.7])
    assert parse_axis("workload.rate=1:3:3") == ("workload.rate", [1.0, 2.0, 3.0])
    assert parse_axis("draft=llama-160m,null") == ("draft", ["llama-160m", None])
    for bad in ("alpha", "=1,2", "alpha=", "rate=1:x:3", "rate=0:1:0"):
        with pytest.raises(ValueError):
            parse_axis(bad)


def test_grid_and_overrides():
    pts = grid_points({"alpha": [0.5, 0.6], "batch": [1, 2, 3]})
    assert len(pts) == 6 and pts[0] == {"acceptance.alpha": 0.5, "max_batch": 1}
    scen = apply_overrides({"workload": {"rate": 1}}, {"workload.rate": 5, "online.update_interval": 8})
    assert scen == {"workload": {"rate": 5}, "online": {"update_interval": 8}}
    with pytest.raises(ValueError, match="not a mapping"):
        apply_overrides({"gamma": 5}, {"gamma.x": 1})
    # The sweep's aliases are known when asked for; values are applied as given ("1:30" stays text).
    assert apply_overrides({}, {"rate": 3, "batch": 8}, aliases=ALIASES) == {"workload": {"rate": 3},
                                                                           "max_batch": 8}
    assert parse_axis("workload.file=1:30")[1] == ["1:30"]


def test_sweep_set_overrides_the_base_scenario(tmp_path, capsys):
    out = tmp_path / "s.csv"
    args = ["sweep", "--evaluator", "roofline", "--axis", "gamma=3", "--workers", "1", "--out", str(out), "--json"]
    assert main([*args, "--set", "max_batch=64", "--set", "acceptance.alpha=0.9"]) == 0
    capsys.readouterr()
    config = json.loads(pd.read_csv(out)["config"][0])
    assert config["max_batch"] == 64 and config["acceptance"]["alpha"] == 0.9
    assert main([*args, "--set", "max_batch"]) == 2 and "key=value" in capsys.readouterr().err


@given(st.dictionaries(st.sampled_from(["alpha", "rate", "gamma"]), st.integers(0, 100)))
def test_point_id_stable_and_order_free(overrides):
    reordered = dict(reversed(list(overrides.items())))
    assert point_id(overrides) == point_id(reordered)


def test_random_points_deterministic():
    axes = {"alpha": (0.3, 0.9), "gamma": [1, 3, 5]}
    assert random_points(axes, 20, seed=3) == random_points(axes, 20, seed=3)
    assert random_points(axes, 20, seed=3) != random_points(axes, 20, seed=4)


def test_local_processes_equal_inline():
    pts = grid_points({"alpha": [0.5, 0.8], "batch": [1, 64]})
    inline = run_sweep(BASE, pts, evaluator="roofline", workers=1)
    pooled = run_sweep(BASE, pts, evaluator="roofline", workers=2)
    assert inline == pooled and [r["index"] for r in pooled] == [0, 1, 2, 3]


@pytest.mark.slow
def test_ray_equals_local():
    pytest.importorskip("ray")
    pts = grid_points({"alpha": [0.5, 0.8], "batch": [1, 64, 128]})
    local = run_sweep(BASE, pts, evaluator="roofline", workers=1)
    ray_rows = run_sweep(BASE, pts, evaluator="roofline", backend="ray", workers=2)
    assert local == ray_rows


def test_resume_equals_uninterrupted(tmp_path, capsys):
    args = ["sweep", "--evaluator", "roofline", "--axis", "alpha=0.5,0.6,0.7,0.8", "--axis", "batch=1,32",
            "--workers", "1", "--json"]
    full = tmp_path / "full.csv"
    assert main(args + ["--out", str(full)]) == 0
    capsys.readouterr()
    expected = pd.read_csv(full)
    # Fake an interruption: a journal holding the first three rows and half of the fourth.
    part = tmp_path / "part.csv"
    first = [json.loads(r.to_json()) for _, r in expected.iterrows()]
    from osdsim.sweep.files import sweep_signature

    pts = grid_points({"alpha": [0.5, 0.6, 0.7, 0.8], "batch": [1, 32]})
    sig = sweep_signature({}, "roofline", pts)
    lines = [json.dumps({"signature": sig})] + [json.dumps(r) for r in first[:3]]
    journal_path(part).write_text("\n".join(lines) + "\n" + json.dumps(first[3])[:25])
    assert main(args + ["--out", str(part)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["resumed"] == 3 and out["computed"] == 5
    pd.testing.assert_frame_equal(pd.read_csv(part), expected)
    assert not journal_path(part).exists()


def test_journal_of_another_sweep_is_refused(tmp_path, capsys):
    out = tmp_path / "x.csv"
    journal_path(out).write_text(json.dumps({"signature": "other"}) + "\n" + json.dumps({"point_id": "p"}) + "\n")
    code = main(["sweep", "--evaluator", "roofline", "--axis", "alpha=0.5", "--out", str(out)])
    assert code == 2 and "different sweep" in capsys.readouterr().err
    # A journal with no finished point (a sweep that failed at once) holds nothing: it is replaced.
    journal_path(out).write_text(json.dumps({"signature": "other"}) + "\n")
    assert main(["sweep", "--evaluator", "roofline", "--axis", "alpha=0.5", "--out", str(out)]) == 0
    assert out.exists() and not journal_path(out).exists()


def test_sweep_needs_an_axis(capsys):
    assert main(["sweep", "--evaluator", "roofline"]) == 2
    assert "--axis" in capsys.readouterr().err


SMALL_SIM = {"seed": 3, "max_batch": 8, "workload": {"rate": 4.0, "num_requests": 30, "prompt_tokens": 64,
                                                      "output_tokens": 32}}


def test_simulate_evaluator_rows_identical_local_and_ray():
    pytest.importorskip("ray")
    pts = grid_points({"alpha": [0.5, 0.8], "gamma": [0, 3]})
    local = run_sweep(SMALL_SIM, pts, evaluator="simulate", workers=1)
    ray_rows = run_sweep(SMALL_SIM, pts, evaluator="simulate", backend="ray", workers=2)
    assert local == ray_rows
    assert all(r["finished"] == 30 for r in local)
    # gamma 0 is plain decoding: its speedup over its own baseline is exactly 1.
    assert all(r["speedup"] == pytest.approx(1.0) for r in local if r["gamma"] == 0)


def test_relative_paths_resolve_against_the_scenario_file(tmp_path, capsys, monkeypatch):
    # A scenario naming its learning curves by a relative path must work from any working directory,
    # in sweep and plan as in simulate.
    folder = tmp_path / "study"
    folder.mkdir()
    (folder / "curves.json").write_text(json.dumps(
        {"form": "exp", "unit": "records", "domains": {"default": {"alpha0": 0.5, "alpha_inf": 0.8, "scale": 10}}}))
    (folder / "s.yaml").write_text(
        "max_batch: 8\nacceptance: {model: learning_curve, curves: curves.json}\n"
        "online: {update_interval: 4}\nworkload: {rate: 4.0, num_requests: 20, prompt_tokens: 32, output_tokens: 16}\n")
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", "study/s.yaml", "--axis", "gamma=2", "--workers", "1", "--out", "o.csv", "--json"]) == 0
    assert main(["plan", "study/s.yaml", "--slo", "tpot_p99_s=10", "--modes", "osd", "--json"]) == 0
    capsys.readouterr()
