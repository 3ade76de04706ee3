"""Validation: a trace made by a known cost model validates with (near) zero error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from osdsim.calibrate import MeasuredCost, model_spec_from_hf_config
from osdsim.cost import RooflineCost
from osdsim.specs import load_hardware
from osdsim.trace import TraceWriter, read_trace
from osdsim.validate.core import validate_trace
from osdsim.validate.replay import step_positions
from osdsim.validate.synthetic import synthetic_trace

CFG = {"model_type": "llama", "hidden_size": 256, "intermediate_size": 688, "num_hidden_layers": 4,
       "num_attention_heads": 4, "vocab_size": 8192, "tie_word_embeddings": False}


@pytest.fixture(scope="module")
def pair():
    target = model_spec_from_hf_config(CFG, "target")
    draft = model_spec_from_hf_config({**CFG, "hidden_size": 64, "intermediate_size": 176,
                                       "num_hidden_layers": 2, "num_attention_heads": 2}, "draft")
    return target, draft


def write(lines, path):
    with TraceWriter(path, mode="w") as w:
        for kind, fields in lines:
            w.write(kind, **fields)
    return read_trace(path)


def test_validating_a_trace_made_by_the_cost_model_gives_zero_error(pair, tmp_path):
    target, draft = pair
    cost = RooflineCost(load_hardware("cpu"))
    trace = write(synthetic_trace(cost, target, draft, gamma=3, alpha=0.7, records=12), tmp_path / "t.jsonl")
    v = validate_trace(trace, cost, target, draft, repeats=32)
    s = v.summary
    assert s["steps"]["latency"]["median_ape_pct"] < 1e-6 and s["steps"]["latency"]["p90_ape_pct"] < 1e-6
    assert s["replayed"]["latency"]["p90_ape_pct"] < 1e-6
    assert s["baseline"]["latency"]["p90_ape_pct"] < 1e-6
    assert abs(s["replayed"]["speedup"]["error_pct"]) < 1e-6
    # acceptance drawn from the trace's own empirical distribution: only sampling noise remains
    assert abs(s["acceptance_model"]["throughput"]["error_pct"]) < 5
    assert abs(s["acceptance_model"]["speedup"]["error_pct"]) < 5
    assert s["acceptance_model"]["kind"] == "empirical"


def test_noise_shows_up_as_error(pair, tmp_path):
    target, draft = pair
    cost = RooflineCost(load_hardware("cpu"))
    lines = synthetic_trace(cost, target, draft, records=6, noise=0.05, rng=np.random.default_rng(3))
    v = validate_trace(write(lines, tmp_path / "n.jsonl"), cost, target, draft, repeats=4)
    assert 1 < v.summary["steps"]["latency"]["median_ape_pct"] < 10


def test_measured_table_of_the_same_timings_validates_exactly(pair, tmp_path):
    target, draft = pair
    roof = RooflineCost(load_hardware("cpu"))
    rows = [(m.name, 1, k, ctx, roof.forward_s(m, 1, k, ctx)) for m in pair for k in range(1, 5)
            for ctx in (0, 512)]
    cost = MeasuredCost(load_hardware("cpu"), rows=tuple(rows))
    trace = write(synthetic_trace(roof, target, draft, records=4), tmp_path / "m.jsonl")
    v = validate_trace(trace, cost, target, draft, repeats=2)
    # linear interpolation over context is exact for a roofline linear in context
    assert v.summary["steps"]["latency"]["p90_ape_pct"] < 0.5


def test_positions_are_reconstructed_without_the_field(pair, tmp_path):
    target, draft = pair
    trace = write(synthetic_trace(RooflineCost(load_hardware("cpu")), target, draft, records=2),
                  tmp_path / "p.jsonl")
    expected = trace.steps["position"].astype(float)
    got = step_positions(trace.steps.drop(columns="position"), trace.records)
    assert np.allclose(got.to_numpy(), expected.to_numpy())


def test_a_trace_without_steps_is_refused(pair, tmp_path):
    target, draft = pair
    trace = write([("meta", {"schema_version": 1}), ("aggregate", {"drafted": 1, "accepted": 1, "emitted": 2})],
                  tmp_path / "a.jsonl")
    with pytest.raises(ValueError, match="step and record"):
        validate_trace(trace, RooflineCost(load_hardware("cpu")), target, draft)


def test_online_run_uses_the_learning_curves_and_reports_alpha(pair, tmp_path):
    target, draft = pair
    cost = RooflineCost(load_hardware("cpu"))
    lines = synthetic_trace(cost, target, draft, gamma=3, alpha=0.6, records=8)
    lines.append(("update", {"update": 1, "after_record": 3, "num_tokens": 10, "loss": 1.0, "update_s": 0.1}))
    trace = write(lines, tmp_path / "o.jsonl")
    curves = {"form": "exp", "unit": "records",
              "domains": {"synthetic": {"alpha0": 0.6, "alpha_inf": 0.6, "scale": 1.0, "points": 8}}}
    v = validate_trace(trace, cost, target, draft, curves=curves, repeats=8, records="odd")
    assert v.summary["acceptance_model"]["kind"] == "learning_curve"
    assert v.summary["alpha"]["records"] == 4 and v.summary["alpha"]["median_abs_error"] < 0.3
    assert set(v.records["record"]) == {1, 3, 5, 7}
    assert v.summary["replayed"]["latency"]["p90_ape_pct"] < 1e-6


def test_select_records_by_range_and_parity(pair, tmp_path):
    from osdsim.validate.core import select_records

    target, draft = pair
    trace = write(synthetic_trace(RooflineCost(load_hardware("cpu")), target, draft, records=6), tmp_path / "r.jsonl")
    assert set(select_records(trace, "2:4").records["record"]) == {2, 3}
    assert set(select_records(trace, "4:").steps["record"]) == {4, 5}
    assert set(select_records(trace, "even").records["record"]) == {0, 2, 4}
    for bad in ("x", "1-3", "10:20"):
        with pytest.raises(ValueError):
            select_records(trace, bad)


def test_record_noise_floor_compares_identical_baseline_records_with_their_median():
    from osdsim.validate.report import record_noise_floor

    records = pd.DataFrame({
        "mode": ["baseline"] * 6 + ["speculative"],
        "prompt_tokens": [10, 10, 10, 20, 20, 30, 10],
        "num_tokens": [40] * 7,
        "latency_s": [1.0, 1.1, 0.8, 5.0, 5.0, 9.0, 0.1]})
    floor = record_noise_floor(records)
    # only the group of three baseline records counts: |1/1-1|, |1/1.1-1|, |1/0.8-1|
    assert floor["points"] == 3
    assert floor["median_ape_pct"] == pytest.approx(100 * (1 - 1 / 1.1))
    assert record_noise_floor(records.drop(columns="mode"))["points"] == 0


def test_common_factor_separates_machine_speed_from_model_error():
    from osdsim.validate.report import common_factor

    rng = np.random.default_rng(0)
    records = np.repeat(np.arange(30), 5)
    speed = rng.uniform(0.8, 1.25, 30)[records]  # one factor per record on both models
    steps = pd.DataFrame({"record": records, "drafted": 3, "predicted_draft_s": 0.003, "predicted_verify_s": 0.01,
                          "draft_s": 0.003 * speed, "verify_s": 0.01 * speed})
    assert common_factor(steps) == pytest.approx(1.0)
    independent = steps.assign(verify_s=0.01 * rng.uniform(0.8, 1.25, 30)[records])
    assert abs(common_factor(independent)) < 0.5
    assert common_factor(steps[steps["record"] < 2]) is None


def test_steps_are_priced_at_the_batch_their_line_names(pair, tmp_path):
    target, draft = pair
    cost = RooflineCost(load_hardware("a100-80g"))
    lines = synthetic_trace(cost, target, draft, records=4, batch=64)
    steps = validate_trace(write(lines, tmp_path / "b.jsonl"), cost, target, draft, repeats=2).steps
    assert (steps["batch"] == 64).all()
    assert np.allclose(steps["predicted_s"], steps["measured_s"], rtol=1e-9)
    one = synthetic_trace(cost, target, draft, records=4, batch=1)
    assert [f["verify_s"] for k, f in one if k == "step"][0] < [f["verify_s"] for k, f in lines if k == "step"][0]


def test_speed_pairs_match_each_record_with_its_baseline():
    from osdsim.validate.core import speed_pairs

    records = pd.DataFrame({"record": [0, 0, 1, 1, 2], "mode": ["baseline", "speculative"] * 2 + ["speculative"],
                            "latency_s": [1.2, 2.4, 0.9, 1.8, 5.0], "predicted_latency_s": [1.0, 2.0, 1.0, 2.0, 5.0]})
    pairs = speed_pairs(records)
    assert pairs["record"].tolist() == [0, 1]  # record 2 has no baseline
    assert pairs["baseline_ratio"].tolist() == pytest.approx([1.2, 0.9])
    assert pairs["speculative_ratio"].tolist() == pytest.approx([1.2, 0.9])
    assert speed_pairs(records[records["mode"] == "speculative"]).empty


def test_select_records_splits_updates_by_number_or_by_the_record_they_followed(pair, tmp_path):
    from osdsim.validate.core import select_records

    target, draft = pair
    lines = synthetic_trace(RooflineCost(load_hardware("cpu")), target, draft, records=8)
    lines += [("update", {"update": u, "after_record": 2 * u - 1, "num_tokens": 10, "loss": 1.0, "update_s": 0.1})
              for u in range(1, 5)]
    trace = write(lines, tmp_path / "u.jsonl")
    assert select_records(trace, "odd").updates["update"].tolist() == [1, 3]
    assert select_records(trace, "even").updates["update"].tolist() == [2, 4]
    assert select_records(trace, "2:6").updates["after_record"].tolist() == [3, 5]
    assert select_records(trace, "all").updates["update"].tolist() == [1, 2, 3, 4]


def test_the_workflows_behind_calibrate_and_validate_write_nothing(pair, tmp_path):
    """``calibrate_card`` and ``check_trace`` are the library halves of the two commands: they
    return the card and the summary, and the CLI writes (no file appears here)."""
    import json

    from osdsim.calibrate.hf_config import spec_to_dict
    from osdsim.calibrate.workflow import calibrate_card
    from osdsim.validate.workflow import check_trace

    target, draft = pair
    cost = RooflineCost(load_hardware("cpu"))
    write(synthetic_trace(cost, target, draft, records=6), tmp_path / "t.jsonl")
    (tmp_path / "models.json").write_text(json.dumps({m.name: spec_to_dict(m) for m in pair}))
    before = sorted(tmp_path.iterdir())
    cal = calibrate_card(trace=str(tmp_path / "t.jsonl"), models=str(tmp_path / "models.json"), records="even")
    card = cal.card("mine")
    assert card["name"] == "mine" and card["measured"] and cal.payload["fit"]["median_abs_rel_error"] < 0.05
    check = check_trace(str(tmp_path / "t.jsonl"), card="cpu", cost="roofline", models=str(tmp_path / "models.json"),
                        records="odd", repeats=2, scale="auto")
    assert check.payload["scale"] == pytest.approx(1.0) and check.payload["num_records"] == 6  # 3 odd, 2 modes
    assert check.payload["replayed"]["latency"]["p90_ape_pct"] < 1e-6 and len(check.validation.steps)
    assert sorted(tmp_path.iterdir()) == before
