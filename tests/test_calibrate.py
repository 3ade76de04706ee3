"""Calibration recovers known roofline parameters; the measured-table cost model; HF configs; cards."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import yaml

from osdsim.calibrate import (
    MeasuredCost,
    fit_roofline,
    hardware_card,
    model_spec_from_hf_config,
    timings_from_trace,
)
from osdsim.cost import RooflineCost, forward_time
from osdsim.specs import load_hardware, load_model

TINY_CONFIG = {"model_type": "llama", "hidden_size": 256, "intermediate_size": 688, "num_hidden_layers": 2,
               "num_attention_heads": 4, "num_key_value_heads": 4, "vocab_size": 8192,
               "tie_word_embeddings": True, "max_position_embeddings": 1024}
TRUE = {"bandwidth_efficiency": 0.45, "compute_efficiency": 0.3,
        "overhead_per_forward_s": 9e-4, "overhead_per_layer_s": 1.2e-4}


@pytest.fixture(scope="module")
def models():
    # Two small models with different depths: the overheads weigh enough to be identified.
    deep = {**TINY_CONFIG, "hidden_size": 128, "intermediate_size": 344, "num_hidden_layers": 10}
    return {"tiny": model_spec_from_hf_config(TINY_CONFIG, "tiny"),
            "deep": model_spec_from_hf_config(deep, "deep"), "llama-160m": load_model("llama-160m")}


def synthetic_rows(models, hw, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for name, m in models.items():
        for b in (1, 4, 16, 64):
            for k in (1, 2, 3, 4, 6, 8):
                for ctx in (0, 128, 512):
                    t = forward_time(m, hw, b, k, ctx) * (1 + noise * rng.standard_normal())
                    rows.append((name, b, k, ctx, t))
    return pd.DataFrame(rows, columns=["model", "batch", "new_tokens", "context", "seconds"])


def test_hf_config_gives_the_architecture():
    spec = model_spec_from_hf_config(TINY_CONFIG, "tiny")
    assert (spec.num_layers, spec.hidden_size, spec.num_heads, spec.head_dim) == (2, 256, 4, 64)
    assert spec.tied_embeddings and spec.gated_mlp and spec.params == spec.computed_params
    ref = load_model("llama-160m")
    cfg = {"model_type": "llama", "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
           "num_attention_heads": 12, "vocab_size": 32000, "max_position_embeddings": 2048}
    assert model_spec_from_hf_config(cfg, "x").computed_params == ref.computed_params
    gpt2 = model_spec_from_hf_config({"model_type": "gpt2", "n_embd": 768, "n_layer": 12, "n_head": 12,
                                      "vocab_size": 50257}, "gpt2")
    assert not gpt2.gated_mlp and gpt2.intermediate_size == 3072
    with pytest.raises(ValueError, match="lacks"):
        model_spec_from_hf_config({"hidden_size": 4}, "bad")


@pytest.mark.parametrize("noise", [0.0, 0.02])
def test_fit_recovers_known_parameters(models, noise):
    truth = replace(load_hardware("cpu"), **TRUE)
    rows = synthetic_rows(models, truth, noise=noise)
    fit = fit_roofline(rows, models, load_hardware("cpu"))
    for key, value in TRUE.items():
        # 2% timing noise leaves the overheads (a small share of most rows) less pinned down
        tol = 1e-3 if noise == 0 else (0.05 if "efficiency" in key else 0.3)
        assert fit.params[key] == pytest.approx(value, rel=tol), key
    assert fit.summary()["median_abs_rel_error"] <= (1e-6 if noise == 0 else 0.03)
    assert len(fit.points) == len(rows) and "rel_error" in fit.points


def test_fit_rejects_bad_rows(models):
    rows = synthetic_rows(models, load_hardware("cpu")).head(3)
    with pytest.raises(ValueError, match="no model spec"):
        fit_roofline(rows.assign(model="nope"), models, load_hardware("cpu"))
    with pytest.raises(ValueError, match="non-positive"):
        fit_roofline(rows.assign(seconds=-1.0), models, load_hardware("cpu"))


def stepped_rows():
    # A CPU-like table: flat for 1-3 new tokens, a jump at 4 (the slower matmul path).
    rows = []
    for ctx, base in ((0, 0.010), (256, 0.012)):
        for k in (1, 2, 3, 4, 5):
            rows.append(("tiny", 1, k, ctx, base + (0.006 if k >= 4 else 0.0) + 0.0005 * k))
    return rows


def test_measured_cost_reproduces_table_and_keeps_the_step(models):
    rows = stepped_rows()
    cost = MeasuredCost(load_hardware("cpu"), rows=tuple(rows))
    tiny = models["tiny"]
    for _, b, k, ctx, s in rows:
        assert cost.forward_s(tiny, b, k, ctx) == s
    assert cost.forward_s(tiny, 1, 3, 128) == pytest.approx((0.0115 + 0.0135) / 2)
    # the jump between 3 and 4 stays where it was measured
    assert cost.forward_s(tiny, 1, 4, 0) - cost.forward_s(tiny, 1, 3, 0) == pytest.approx(0.0065)
    assert cost.forward_s(tiny, 1, 3.5, 0) == pytest.approx((0.0115 + 0.018) / 2)


def test_measured_cost_falls_back_to_the_roofline_outside(models):
    hw = load_hardware("cpu")
    cost, roof = MeasuredCost(hw, rows=tuple(stepped_rows())), RooflineCost(hw)
    tiny, other = models["tiny"], models["deep"]
    for b, k, ctx in ((1, 6, 0), (2, 1, 0), (1, 1, 512)):
        assert cost.forward_s(tiny, b, k, ctx) == roof.forward_s(tiny, b, k, ctx)
    assert cost.forward_s(other, 1, 1, 0) == roof.forward_s(other, 1, 1, 0)
    anchored = MeasuredCost(hw, rows=tuple(stepped_rows()), extrapolate="anchored")
    expect = 0.0125 * roof.forward_s(tiny, 1, 1, 512) / roof.forward_s(tiny, 1, 1, 256)
    assert anchored.forward_s(tiny, 1, 1, 512) == pytest.approx(expect)
    assert cost.forward_flops(tiny, 1, 1, 0) == roof.forward_flops(tiny, 1, 1, 0)


def test_card_round_trips_through_the_loader(models, tmp_path):
    truth = replace(load_hardware("cpu"), **TRUE)
    rows = synthetic_rows(models, truth).head(20)
    fit = fit_roofline(rows, models, load_hardware("cpu"))
    path = tmp_path / "cpu-fitted.yaml"
    path.write_text(yaml.safe_dump(hardware_card(fit.hardware, rows, source="test")))
    card = load_hardware(str(path))
    assert card.overhead_per_forward_s == pytest.approx(fit.params["overhead_per_forward_s"], rel=1e-6)
    assert len(card.measured) == 20
    cost = MeasuredCost(card)
    r = rows.iloc[5]
    assert cost.forward_s(models[r.model], r.batch, r.new_tokens, r.context) == pytest.approx(r.seconds, rel=1e-6)


def test_timings_from_trace_steps():
    steps = pd.DataFrame({"drafted": [3, 3, 0], "draft_s": [0.003, 0.006, 0.0], "verify_s": [0.02, 0.022, 0.01],
                          "position": [11, 13, 40], "batch": 1})
    rows = timings_from_trace(steps, "t", "d")
    verify = rows[rows.model == "t"].set_index("new_tokens")
    assert verify.loc[4, "seconds"] == pytest.approx(0.021) and verify.loc[1, "context"] == 39
    assert rows[rows.model == "d"]["seconds"].iloc[0] == pytest.approx(0.0015)


def test_resolve_spec_from_dirs_and_the_small_model_cache(tmp_path, monkeypatch):
    import json

    from osdsim.calibrate.hf_config import resolve_spec

    model_dir = tmp_path / "my-model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text(json.dumps(TINY_CONFIG))
    assert resolve_spec(str(model_dir), {}).hidden_size == 256
    cached = tmp_path / "cache" / "draft-m-abc123"
    cached.mkdir(parents=True)
    (cached / "config.json").write_text(json.dumps({**TINY_CONFIG, "hidden_size": 160, "num_attention_heads": 4}))
    monkeypatch.setenv("OSDSIM_CACHE", str(tmp_path / "cache"))
    spec = resolve_spec("osdsim-small-draft-m", {})
    assert spec.name == "osdsim-small-draft-m" and spec.hidden_size == 160
    assert resolve_spec("x", {}, card="llama-160m").name == "x"
    with pytest.raises(ValueError, match="no model spec"):
        resolve_spec("osdsim-small-draft-l", {})
