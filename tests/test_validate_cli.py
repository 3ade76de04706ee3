"""`osdsim calibrate` and `osdsim validate` end to end on a synthetic trace; `osdsim import` output."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import osdsim.cli.main as cli_main
from osdsim.calibrate import model_spec_from_hf_config
from osdsim.calibrate.hf_config import spec_to_dict
from osdsim.cost import RooflineCost
from osdsim.specs import load_hardware
from osdsim.trace import TraceWriter
from osdsim.validate.synthetic import synthetic_trace

MINE = ("import", "calibrate", "validate", "profile")
SAMPLES = Path(__file__).resolve().parents[1] / "traces" / "samples"
CFG = {"model_type": "llama", "hidden_size": 256, "intermediate_size": 688, "num_hidden_layers": 4,
       "num_attention_heads": 4, "vocab_size": 8192}


def osdsim(monkeypatch, capsys, *argv):
    monkeypatch.setattr(cli_main, "COMMANDS", tuple(dict.fromkeys((*cli_main.COMMANDS, *MINE))))
    code = cli_main.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def run_files(tmp_path):
    target = model_spec_from_hf_config(CFG, "target")
    draft = model_spec_from_hf_config({**CFG, "hidden_size": 64, "intermediate_size": 176,
                                       "num_hidden_layers": 2, "num_attention_heads": 2}, "draft")
    hw = load_hardware("cpu")
    cost = RooflineCost(hw)
    trace = tmp_path / "run.jsonl"
    with TraceWriter(trace, mode="w") as w:
        for kind, fields in synthetic_trace(cost, target, draft, gamma=3, records=6):
            w.write(kind, **fields)
    models = tmp_path / "timings.csv.models.json"
    models.write_text(json.dumps({m.name: spec_to_dict(m) for m in (target, draft)}))
    rows = [(m.name, 1, k, ctx, cost.forward_s(m, 1, k, ctx)) for m in (target, draft)
            for k in (1, 2, 3, 4, 15) for ctx in (0, 16, 64, 128)]
    timings = tmp_path / "timings.csv"
    pd.DataFrame(rows, columns=["model", "batch", "new_tokens", "context", "seconds"]).to_csv(timings, index=False)
    return trace, timings, models


def test_calibrate_then_validate(monkeypatch, capsys, run_files, tmp_path):
    trace, timings, models = run_files
    card = tmp_path / "cpu-test.yaml"
    code, out, err = osdsim(monkeypatch, capsys, "calibrate", "--timings", str(timings), "--hardware", "cpu",
                            "--out", str(card), "--json")
    assert code == 0, err
    fit = json.loads(out)
    assert fit["fit"]["median_abs_rel_error"] < 1e-6 and card.is_file()
    figure = tmp_path / "fig.png"
    code, out, err = osdsim(monkeypatch, capsys, "validate", str(trace), "--card", str(card), "--models",
                            str(models), "--figure", str(figure), "--repeats", "4", "--json")
    assert code == 0, err
    v = json.loads(out)
    assert v["steps"]["latency"]["p90_ape_pct"] < 0.5
    assert v["replayed"]["latency"]["p90_ape_pct"] < 0.5 and abs(v["replayed"]["speedup"]["error_pct"]) < 0.5
    assert figure.stat().st_size > 1000
    code, out, _ = osdsim(monkeypatch, capsys, "validate", str(trace), "--card", str(card), "--models", str(models),
                          "--repeats", "2")
    assert code == 0 and "per-record latency" in out


def test_calibrate_from_the_trace_itself(monkeypatch, capsys, run_files):
    trace, _, models = run_files
    code, out, err = osdsim(monkeypatch, capsys, "calibrate", "--trace", str(trace), "--models", str(models), "--json")
    assert code == 0, err
    assert json.loads(out)["fit"]["median_abs_rel_error"] < 0.05


def test_validate_errors_are_one_sentence(monkeypatch, capsys, run_files, tmp_path):
    trace, _, _ = run_files
    code, _, err = osdsim(monkeypatch, capsys, "validate", str(trace), "--card", "cpu")
    assert code == 2 and "no model spec" in err and "Traceback" not in err
    code, _, err = osdsim(monkeypatch, capsys, "validate", str(tmp_path / "missing.jsonl"))
    assert code == 2 and err.count("\n") == 1


def test_import_json_is_one_object_and_garbage_exits_2(monkeypatch, capsys, tmp_path):
    out_trace = tmp_path / "imported.jsonl"
    code, out, err = osdsim(monkeypatch, capsys, "import", "llamacpp", str(SAMPLES / "llamacpp_server.log"),
                            "--c", "0.1", "--what-if-gamma", "2,4", "--out", str(out_trace), "--json")
    assert code == 0, err
    payload = json.loads(out)
    assert payload["overall"]["tau"] == pytest.approx((100 + 90) / 90)
    assert len(payload["prediction"]["gamma_what_if"]) == 2 and out_trace.is_file()
    code, _, err = osdsim(monkeypatch, capsys, "import", "vllm", str(SAMPLES / "garbage.log"))
    assert code == 2 and "garbage.log" in err


def test_validate_through_the_simulator(monkeypatch, capsys, run_files, tmp_path):
    trace, timings, models = run_files
    card = tmp_path / "cpu-sim.yaml"
    assert osdsim(monkeypatch, capsys, "calibrate", "--timings", str(timings), "--out", str(card))[0] == 0
    code, out, err = osdsim(monkeypatch, capsys, "validate", str(trace), "--card", str(card), "--models",
                            str(models), "--simulator", "--repeats", "2", "--json")
    assert code == 0, err
    sim = json.loads(out)["simulator"]
    assert sim["latency"]["points"] == 6
    assert abs(sim["throughput"]["error_pct"]) < 15 and abs(sim["speedup"]["error_pct"]) < 15


def test_scale_auto_recovers_a_uniform_slowdown(monkeypatch, capsys, tmp_path):
    from osdsim.calibrate import ScaledCost

    target = model_spec_from_hf_config(CFG, "target")
    draft = model_spec_from_hf_config({**CFG, "hidden_size": 64, "intermediate_size": 176,
                                       "num_hidden_layers": 2, "num_attention_heads": 2}, "draft")
    loaded = ScaledCost(RooflineCost(load_hardware("cpu")), 3.0)  # a run recorded on a busy machine
    trace = tmp_path / "busy.jsonl"
    with TraceWriter(trace, mode="w") as w:
        for kind, fields in synthetic_trace(loaded, target, draft, records=4):
            w.write(kind, **fields)
    models = tmp_path / "models.json"
    models.write_text(json.dumps({m.name: spec_to_dict(m) for m in (target, draft)}))
    code, out, err = osdsim(monkeypatch, capsys, "validate", str(trace), "--card", "cpu", "--cost", "roofline",
                            "--models", str(models), "--scale", "auto", "--records", "odd", "--json")
    assert code == 0, err
    v = json.loads(out)
    assert v["scale"] == pytest.approx(3.0) and v["replayed"]["latency"]["p90_ape_pct"] < 1e-6
    code, _, err = osdsim(monkeypatch, capsys, "validate", str(trace), "--models", str(models), "--scale", "-1")
    assert code == 2 and "--scale" in err


def test_import_with_cards_gives_batch_aware_roofline_speedups(monkeypatch, capsys):
    code, out, err = osdsim(monkeypatch, capsys, "import", "vllm", str(SAMPLES / "vllm_v0.log"), "--target",
                            "vicuna-7b-v1.3", "--draft", "llama-160m", "--hardware", "a100-80g",
                            "--batch", "64", "--what-if-gamma", "1,5", "--json")
    assert code == 0, err
    payload = json.loads(out)
    assert payload["prediction"]["c"] > 0 and payload["roofline_prediction"]["batch"] == 64
    assert [g["gamma"] for g in payload["roofline_prediction"]["gamma_what_if"]] == [1, 5]
    code, _, err = osdsim(monkeypatch, capsys, "import", "vllm", str(SAMPLES / "vllm_v0.log"), "--target", "x")
    assert code == 2 and "go together" in err


def test_a_table_calibrated_with_llm_cards_serves_validate_and_the_simulator(monkeypatch, capsys, run_files,
                                                                              tmp_path):
    import yaml

    from osdsim.cost import MeasuredCost
    from osdsim.sim import load_scenario
    from osdsim.sim.pricing import build_cost
    from osdsim.specs import load_model

    trace, _, _ = run_files
    card = tmp_path / "gpu-calibrated.yaml"
    cards = ("--target-card", "vicuna-7b-v1.3", "--draft-card", "llama-160m")
    code, _, err = osdsim(monkeypatch, capsys, "calibrate", "--trace", str(trace), *cards, "--out", str(card))
    assert code == 0, err
    table = yaml.safe_load(card.read_text())["measured"]
    assert {r["model"] for r in table} == {"vicuna-7b-v1.3", "llama-160m"}
    code, out, err = osdsim(monkeypatch, capsys, "validate", str(trace), "--card", str(card), *cards,
                            "--repeats", "2", "--json")
    assert code == 0, err
    assert json.loads(out)["steps"]["latency"]["p90_ape_pct"] < 1.0  # the table, not the card's roofline
    cost = build_cost(load_scenario({"target": "vicuna-7b-v1.3", "draft": "llama-160m", "hardware": str(card)}))
    assert isinstance(cost, MeasuredCost)
    assert cost.table_s(load_model("vicuna-7b-v1.3"), 1, 4, 40) is not None


def test_online_updates_are_calibrated_and_validated(monkeypatch, capsys, tmp_path):
    import yaml

    target = model_spec_from_hf_config(CFG, "target")
    draft = model_spec_from_hf_config({**CFG, "hidden_size": 64, "intermediate_size": 176,
                                       "num_hidden_layers": 2, "num_attention_heads": 2}, "draft")
    trace = tmp_path / "online.jsonl"
    with TraceWriter(trace, mode="w") as w:
        for kind, fields in synthetic_trace(RooflineCost(load_hardware("cpu")), target, draft, records=8):
            w.write(kind, **fields)
        for u in range(1, 9):  # one update after every record: 0.3 s fixed + 0.5 ms per token
            w.write("update", update=u, after_record=u - 1, num_tokens=40 * u, loss=1.0, update_s=0.3 + 5e-4 * 40 * u)
    models = tmp_path / "m.json"
    models.write_text(json.dumps({m.name: spec_to_dict(m) for m in (target, draft)}))
    card = tmp_path / "cpu-online.yaml"
    code, out, err = osdsim(monkeypatch, capsys, "calibrate", "--trace", str(trace), "--models", str(models),
                            "--records", "even", "--out", str(card), "--json")
    assert code == 0, err
    fit = json.loads(out)["updates"]
    assert fit["rows"] == 4 and fit["seconds_fixed"] == pytest.approx(0.3) and fit["seconds_per_token"] == pytest.approx(5e-4)
    assert len(yaml.safe_load(card.read_text())["measured_updates"]) == 4
    code, out, err = osdsim(monkeypatch, capsys, "validate", str(trace), "--card", str(card), "--models", str(models),
                            "--records", "odd", "--repeats", "2", "--json")
    assert code == 0, err
    updates = json.loads(out)["updates"]
    assert updates["points"] == 4 and updates["p90_ape_pct"] < 1e-6  # held-out updates on the fitted line


def test_import_checks_logged_throughput_with_cards(monkeypatch, capsys):
    argv = ("import", "vllm", str(SAMPLES / "vllm_v1.log"), "--target", "vicuna-7b-v1.3", "--draft", "llama-160m",
            "--hardware", "a100-80g")
    code, out, err = osdsim(monkeypatch, capsys, *argv, "--json")
    assert code == 0, err
    check = json.loads(out)["throughput_check"]
    assert check["error"]["points"] == len(check["intervals"]) >= 1
    assert all(i["running"] == 4 and i["gamma"] == 3 for i in check["intervals"])
    code, out, _ = osdsim(monkeypatch, capsys, *argv)
    assert code == 0 and "generation throughput at each interval's logged batch" in out


def test_validate_an_imported_log_through_its_throughput_lines(monkeypatch, capsys, tmp_path):
    cards = ("--target", "vicuna-7b-v1.3", "--draft", "llama-160m", "--hardware", "a100-80g")
    with_tp, without = tmp_path / "v1.jsonl", tmp_path / "early.jsonl"
    assert osdsim(monkeypatch, capsys, "import", "vllm", str(SAMPLES / "vllm_v1.log"), *cards, "--out", str(with_tp))[0] == 0
    assert osdsim(monkeypatch, capsys, "import", "vllm", str(SAMPLES / "vllm_v1_early.log"), "--out", str(without))[0] == 0
    code, out, err = osdsim(monkeypatch, capsys, "validate", str(with_tp), "--card", "a100-80g", "--json")
    assert code == 0, err
    assert json.loads(out)["throughput_check"]["error"]["points"] >= 1
    code, _, err = osdsim(monkeypatch, capsys, "validate", str(without), "--card", "a100-80g",
                          "--target-card", "vicuna-7b-v1.3", "--draft-card", "llama-160m")
    assert code == 2 and "throughput lines" in err and err.count("\n") == 1


def test_simulator_replays_an_online_run_with_its_curves_and_distiller(monkeypatch, capsys, tmp_path):
    target = model_spec_from_hf_config(CFG, "target")
    draft = model_spec_from_hf_config({**CFG, "hidden_size": 64, "intermediate_size": 176,
                                       "num_hidden_layers": 2, "num_attention_heads": 2}, "draft")
    lines = synthetic_trace(RooflineCost(load_hardware("cpu")), target, draft, alpha=0.6, records=24)
    lines[0][1]["online"] = {"update_interval": 4}
    trace = tmp_path / "osd.jsonl"
    with TraceWriter(trace, mode="w") as w:
        for kind, fields in lines:
            w.write(kind, **fields)
        for u in range(1, 6):
            w.write("update", update=u, after_record=4 * u - 1, num_tokens=50, loss=1.0, update_s=0.2)
    models = tmp_path / "m.json"
    models.write_text(json.dumps({m.name: spec_to_dict(m) for m in (target, draft)}))
    argv = ("validate", str(trace), "--card", "cpu", "--models", str(models), "--records", "odd", "--simulator",
            "--repeats", "2", "--json")
    code, _, err = osdsim(monkeypatch, capsys, *argv)
    assert code == 2 and "learning curves" in err  # an online run needs its curves
    curves = {"model": "learning_curve", "domains": {"synthetic": {"alpha0": 0.5, "alpha_inf": 0.7, "scale": 8.0}}}
    (tmp_path / "osd.jsonl.curves.json").write_text(json.dumps(curves))
    code, out, err = osdsim(monkeypatch, capsys, *argv)
    assert code == 0, err
    sim = json.loads(out)["simulator"]
    assert sim["latency"]["points"] == 12 and sim["alpha"]["records"] == 12  # the odd half, of all 24 served
    assert sim["updates"] == 24 // 4  # the simulator's distiller updated the draft every 4 records
    assert abs(sim["alpha"]["moving_average"]["mean_signed_pct"]) < 15
    assert abs(sim["throughput"]["error_pct"]) < 15 and abs(sim["speedup"]["error_pct"]) < 15
