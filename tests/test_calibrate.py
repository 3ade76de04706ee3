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
    roof = RooflineCost(hw)
    cost = MeasuredCost(hw, rows=tuple(stepped_rows()), extrapolate="roofline")
    tiny, other = models["tiny"], models["deep"]
    for b, k, ctx in ((1, 6, 0), (2, 1, 0), (1, 1, 512)):
        assert cost.forward_s(tiny, b, k, ctx) == roof.forward_s(tiny, b, k, ctx)
    assert cost.forward_s(other, 1, 1, 0) == roof.forward_s(other, 1, 1, 0)
    anchored = MeasuredCost(hw, rows=tuple(stepped_rows()))  # the default
    expect = 0.0125 * roof.forward_s(tiny, 1, 1, 512) / roof.forward_s(tiny, 1, 1, 256)
    assert anchored.forward_s(tiny, 1, 1, 512) == pytest.approx(expect)
    # anchoring is for context only: new tokens, batch or models beyond the table take the roofline
    for b, k, ctx in ((1, 6, 0), (2, 1, 0)):
        assert anchored.forward_s(tiny, b, k, ctx) == roof.forward_s(tiny, b, k, ctx)
    assert anchored.forward_s(other, 1, 1, 0) == roof.forward_s(other, 1, 1, 0)
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
    rows = timings_from_trace(steps, "t", "d", context_fit="bins")
    verify = rows[rows.model == "t"].set_index("new_tokens")
    assert verify.loc[4, "seconds"] == pytest.approx(0.021) and verify.loc[1, "context"] == 39
    assert rows[rows.model == "d"]["seconds"].iloc[0] == pytest.approx(0.0015)
    # too few forwards for a slope: the linear fit is the weighted mean, over the span run
    line = timings_from_trace(steps, "t", "d")
    draft = line[line.model == "d"]
    assert list(draft["context"]) == [10, 12, 14] and np.allclose(draft["seconds"], 0.0015)
    with pytest.raises(ValueError, match="context_fit"):
        timings_from_trace(steps, "t", "d", context_fit="cubic")


SHAPES = ((20, 30), (45, 30), (70, 40), (33, 25))


def _linear_trace(a=0.010, b=2e-5, draft_a=0.002, draft_b=1e-5, shapes=SHAPES):
    """Steps and baseline records whose every forward costs a + b·context (no noise)."""
    steps, records = [], []
    for r, (prompt, n) in enumerate(shapes):
        pos, made = prompt, 0
        while made < n:
            g = min(3, n - made - 1)
            acc = (r + pos) % (g + 1)
            draft_s = sum(draft_a + draft_b * (pos - 1 + i) for i in range(g))
            steps.append({"record": r, "drafted": g, "draft_s": draft_s,
                          "verify_s": a + 5e-3 * g + b * (pos - 1), "position": pos})
            made, pos = made + acc + 1, pos + acc + 1
        decode = sum(a + b * (prompt - 1 + i) for i in range(n))
        records.append({"record": r, "mode": "baseline", "prompt_tokens": prompt, "num_tokens": n,
                        "prefill_s": 0.02, "latency_s": 0.02 + decode})
    return pd.DataFrame(steps), pd.DataFrame(records)


def test_timings_from_trace_fits_a_line_in_context_that_predicts_sums():
    steps, records = _linear_trace()
    rows = timings_from_trace(steps, "t", "d", records=records)
    one = rows[(rows.model == "t") & (rows.new_tokens == 1)]
    assert np.allclose(one["seconds"], 0.010 + 2e-5 * one["context"], rtol=1e-9)
    # the table spans every context a baseline record decoded at, down to its first token
    assert one["context"].min() == 19 and one["context"].max() == 70 + 40 - 2
    draft = rows[rows.model == "d"]
    assert np.allclose(draft["seconds"], 0.002 + 1e-5 * draft["context"], rtol=1e-9)
    # so a baseline record's latency is recovered from the table, and through the roofline nowhere
    table = MeasuredCost(load_hardware("cpu"), rows=tuple(
        rows.loc[:, ["model", "batch", "new_tokens", "context", "seconds"]].itertuples(index=False)))
    spec = replace(load_model("llama-160m"), name="t")
    for rec in records.itertuples():
        decode = sum(table.table_s(spec, 1, 1, rec.prompt_tokens - 1 + i) for i in range(rec.num_tokens))
        assert decode == pytest.approx(rec.latency_s - rec.prefill_s, rel=1e-9)


def test_timings_from_trace_never_fits_a_falling_line():
    steps, records = _linear_trace(b=-2e-5, draft_b=0.0)
    rows = timings_from_trace(steps, "t", "d", records=records)
    one = rows[(rows.model == "t") & (rows.new_tokens == 1)]
    assert one["seconds"].nunique() == 1  # flat at the weighted mean, not extrapolated downwards


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


def test_time_outside_the_timed_forwards_is_charged_to_each_verify():
    steps, records = _linear_trace()
    spec = steps.groupby("record").agg(timed=("draft_s", "sum"), verify=("verify_s", "sum"), n=("draft_s", "size"))
    gap = 4e-4  # per step, as a real loop spends on cache crops between the timed calls
    records = pd.concat([records, pd.DataFrame({
        "record": spec.index, "mode": "speculative", "prompt_tokens": 1, "num_tokens": 1, "prefill_s": 0.01,
        "latency_s": 0.01 + spec["timed"] + spec["verify"] + gap * spec["n"]})], ignore_index=True)
    from osdsim.calibrate.from_trace import step_gap_s

    assert step_gap_s(steps, records) == pytest.approx(gap)
    with_gap = timings_from_trace(steps, "t", "d", records=records)
    without = timings_from_trace(steps, "t", "d", records=records[records["mode"] == "baseline"])
    four = [t[(t.model == "t") & (t.new_tokens == 4)].set_index("context")["seconds"] for t in (with_gap, without)]
    assert np.allclose(four[0] - four[1], gap)


def test_speculative_prefill_is_split_so_the_pair_sums_to_what_was_measured():
    steps, base = _linear_trace(shapes=[(p, 20) for p in range(12, 60, 4)])  # 12 prompt lengths
    prompts = base["prompt_tokens"]
    target_pre, draft_pre = 0.02 + 1e-4 * (prompts - 1), 0.004 + 2e-5 * (prompts - 1)
    base = base.assign(prefill_s=target_pre, latency_s=base["latency_s"] - 0.02 + target_pre)
    spec = pd.DataFrame({"record": base["record"], "mode": "speculative", "prompt_tokens": prompts,
                         "num_tokens": base["num_tokens"], "prefill_s": target_pre + draft_pre, "latency_s": 10.0})
    cost = MeasuredCost(load_hardware("cpu"), rows=tuple(
        timings_from_trace(steps, "t", "d", records=pd.concat([base, spec]))
        .loc[:, ["model", "batch", "new_tokens", "context", "seconds"]].itertuples(index=False)))
    t, d = (replace(load_model("llama-160m"), name=n) for n in ("t", "d"))
    for p, tp, dp in zip(prompts, target_pre, draft_pre):
        # the baseline gives the target's own prefill; the draft gets what the pair's sum leaves
        assert cost.table_s(t, 1, p - 1, 0) == pytest.approx(tp, rel=1e-9)
        assert cost.table_s(t, 1, p - 1, 0) + cost.table_s(d, 1, p - 1, 0) == pytest.approx(tp + dp, rel=0.05)
    # without baseline records the split follows one-token forwards, and the sum is still the pair's
    only = timings_from_trace(steps, "t", "d", records=spec)
    pre = only[only.context == 0].pivot_table(index="new_tokens", columns="model", values="seconds")
    assert np.allclose(pre["t"] + pre["d"], (target_pre + draft_pre).to_numpy()[np.argsort(prompts.to_numpy())],
                       rtol=0.05)


def test_median_line_follows_the_usual_speed_and_the_mean_line_the_sums():
    steps, records = _linear_trace(shapes=[(p, 30) for p in range(20, 80, 5)])
    burst = np.arange(len(steps)) % 10 == 0  # every tenth step ran while a neighbour was busy
    noisy = steps.assign(verify_s=np.where(burst, 1.5, 1.0) * steps["verify_s"])
    four = {}
    for statistic in ("mean", "median"):
        rows = timings_from_trace(noisy, "t", "d", statistic=statistic)
        four[statistic] = rows[(rows.model == "t") & (rows.new_tokens == 4)]
    m = four["median"]
    assert np.allclose(m["seconds"], 0.010 + 5e-3 * 3 + 2e-5 * m["context"], rtol=1e-6)
    # the mean line predicts the sum of what was measured, bursts included (least squares)
    table = MeasuredCost(load_hardware("cpu"), rows=tuple(
        four["mean"].loc[:, ["model", "batch", "new_tokens", "context", "seconds"]].itertuples(index=False)))
    heavy = noisy[noisy["drafted"] == 3]
    t = replace(load_model("llama-160m"), name="t")
    predicted = sum(table.table_s(t, 1, 4, p - 1) for p in heavy["position"])
    assert predicted == pytest.approx(heavy["verify_s"].sum(), rel=1e-3)
    typical = sum(0.025 + 2e-5 * (p - 1) for p in heavy["position"])  # the median line's sum
    assert predicted > 1.03 * typical


def test_timings_from_trace_skips_unusable_steps_and_any_index():
    steps, records = _linear_trace()
    clean = timings_from_trace(steps, "t", "d", records=records)
    broken = steps.copy()
    broken.loc[3, "verify_s"] = float("nan")
    broken.loc[5, "verify_s"] = -0.01
    broken.index = [7] * len(broken)  # duplicate labels, as a concatenated frame can have
    rows = timings_from_trace(broken, "t", "d", records=records)
    assert rows["seconds"].gt(0).all() and len(rows) == len(clean)
    with pytest.raises(ValueError, match="finite, positive"):
        timings_from_trace(steps.assign(verify_s=float("nan"), draft_s=0.0), "t", "d")
