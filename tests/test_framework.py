"""Serving-framework profiles: every card loads and states every cost, each term priced by hand on
one case, draft_tp in time and memory, and the load mechanism (per-sequence and per-verified-token
costs) making speculation lose under load."""

from __future__ import annotations

from dataclasses import replace

import pytest

from osdsim import cost
from osdsim.cost.framework import resolve
from osdsim.sim import simulate
from osdsim.specs import (
    CardError,
    FrameworkSpec,
    card_names,
    load_framework,
    load_hardware,
    load_model,
)

FRAMEWORKS = card_names("framework")


@pytest.fixture(scope="module")
def pair():
    return load_model("vicuna-7b-v1.3"), load_model("vicuna-68m"), load_hardware("a100-80g")


def test_expected_frameworks_exist():
    assert {"none", "hf-eager", "vllm-v0", "vllm-v1", "sglang", "llama.cpp-gpu", "llama.cpp-cpu",
            "pytorch-compiled"} <= set(FRAMEWORKS)


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_card_prices_one_forward_and_one_step_by_hand(name, pair):
    target, _, hw = pair
    fw = load_framework(name)
    assert fw.source and fw.description
    b, k, ctx = 4, 3, 300
    fc = cost.forward_cost(target, hw, b, k, ctx, framework=fw)
    flops = cost.forward_flops(target, b, k, ctx)
    nbytes = cost.forward_bytes(target, b, k, ctx, dtype=hw.default_dtype)
    compute = flops / (hw.flops_for(hw.default_dtype) * hw.compute_efficiency * fw.compute_efficiency)
    memory = nbytes / (hw.bandwidth_Bps * hw.bandwidth_efficiency * fw.bandwidth_efficiency)
    host = fw.host_per_forward_s + 32 * fw.host_per_layer_s + b * fw.host_per_seq_s
    device = max(compute, memory)
    expected = (max(device, host) if fw.overlap else device + host) + fw.sync_per_forward_s
    assert float(fc.time_s) == pytest.approx(expected, rel=1e-9)
    # One speculative step at γ = 2 adds per_step + B·per_seq_step + spec_per_step + B·3·spec_per_token.
    step = fw.per_step_s + b * fw.per_seq_step_s + fw.spec_per_step_s + b * 3 * fw.spec_per_token_s
    assert fw.step_s(b, 2) == pytest.approx(step)
    assert fw.step_s(b, 0) == pytest.approx(fw.per_step_s + b * fw.per_seq_step_s)


def test_batch_expansion_verifies_as_one_token_sequences(pair):
    target, draft, hw = pair
    expand = FrameworkSpec("expand", batch_expansion=True)
    plain = FrameworkSpec("plain")
    t_expand = cost.spec_step_time(target, draft, hw, 8, 3, 500, framework=expand)
    verify = cost.forward_time(target, hw, 32, 1, 500, framework=expand)  # 8 sequences x 4 tokens
    drafts = 3 * cost.forward_time(draft, hw, 8, 1, 501, framework=expand)  # context + (γ − 1)/2
    assert t_expand == pytest.approx(verify + drafts)
    # Each expanded sequence reads its own KV cache: more bytes than one forward of 4 tokens.
    assert t_expand > cost.spec_step_time(target, draft, hw, 8, 3, 500, framework=plain)


def test_card_without_every_cost_is_refused(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("host_per_forward_us: 100\noverlap: true\n")
    with pytest.raises(CardError, match="lacks host_per_layer_us"):
        load_framework(str(path))
    path.write_text("like: vllm-v1\nper_step_us: 5\n")  # starting from a card is enough
    fw = load_framework(str(path))
    assert fw.per_step_s == pytest.approx(5e-6)
    assert fw.host_per_seq_s == load_framework("vllm-v1").host_per_seq_s


def test_hardware_card_without_overheads_gets_the_frameworks(pair):
    target, _, hw = pair
    assert hw.overhead_per_forward_s == 0 and hw.overhead_per_layer_s == 0
    fc = cost.forward_cost(target, hw, 1, 1, 100, framework="hf-eager")
    fw = load_framework("hf-eager")
    assert float(fc.overhead_s) == pytest.approx(fw.host_per_forward_s + 32 * fw.host_per_layer_s)
    assert resolve(None, hw).name == "vllm-v1"  # the default is stated, never a silent zero


def test_draft_tp_splits_the_drafts_time_and_memory():
    target, draft, hw = load_model("llama-3.1-70b"), load_model("llama-3.1-8b"), load_hardware("h100-sxm")
    fw = load_framework("none")
    one = cost.spec_step_time(target, draft, hw, 1, 4, 512, tp=4, draft_tp=1, framework=fw)
    four = cost.spec_step_time(target, draft, hw, 1, 4, 512, tp=4, draft_tp=4, framework=fw)
    d1 = cost.forward_time(draft, hw, 1, 1, 513.5, tp=1, framework=fw)
    d4 = cost.forward_time(draft, hw, 1, 1, 513.5, tp=4, framework=fw)
    assert one - four == pytest.approx(4 * (d1 - d4))
    # Memory: the GPU holding the draft binds; 4 GPUs x 80 GB x 0.9 usable.
    usable, bf16 = 80e9 * 0.9, 2.0
    for dtp in (1, 4):
        used = target.computed_params * bf16 / 4 + draft.computed_params * bf16 / dtp
        per_token = target.kv_bytes_per_token(bf16) / 4 + draft.kv_bytes_per_token(bf16) / dtp
        got = cost.kv_capacity_tokens(target, hw, tp=4, draft=draft, draft_tp=dtp)
        assert got == pytest.approx((usable - used) / per_token)
    with pytest.raises(ValueError, match="draft_tp"):
        cost.spec_step_time(target, load_model("qwen2.5-0.5b"), hw, 1, 4, 512, tp=4, draft_tp=4)


def test_per_token_costs_make_speculation_lose_under_load():
    """By hand: host-bound eager launches, 1 ms per layer overlapping a ~8 ms device forward, so a
    plain step of Vicuna-7B (32 layers) costs 32 ms + 1 ms sync at any small batch and a draft
    forward of vicuna-68m (2 layers) 2 ms + 1 ms. A γ = 2 step adds 1 ms per verified token
    (B·3 of them): 2·3 + 33 + 3B ms. At α = 0.8, τ = 1 + 0.8 + 0.64 = 2.44, so the speedup is
    2.44·33 / (39 + 3B): 1.92 at B = 1, 1.0 at B = 13.8, 0.86 at B = 18."""
    fw = FrameworkSpec("per-token", host_per_layer_s=1e-3, sync_per_forward_s=1e-3, spec_per_token_s=1e-3)
    target, draft, hw = load_model("vicuna-7b-v1.3"), load_model("vicuna-68m"), load_hardware("a100-80g")
    for b, expected in ((1, 2.44 * 33 / 42), (18, 2.44 * 33 / 93)):
        assert cost.spec_speedup(0.8, target, draft, hw, b, 2, 128, framework=fw) == pytest.approx(expected, rel=0.01)
    spec = cost.spec_step_time(target, draft, hw, 13.8, 2, 128, framework=fw)
    plain = cost.plain_step_time(target, hw, 13.8, 128, framework=fw)
    assert 2.44 * plain / spec == pytest.approx(1.0, rel=0.01)

    def speedup(rate: float) -> float:
        return simulate({"target": "vicuna-7b-v1.3", "draft": "vicuna-68m", "hardware": "a100-80g",
                         "gamma": 2, "max_batch": 64, "acceptance": {"alpha": 0.8},
                         "workload": {"rate": rate, "num_requests": 400, "prompt_tokens": 64,
                                      "output_tokens": 64}},
                        cost=cost.RooflineCost(hw, framework=fw)).summary["speedup"]

    light, heavy = speedup(1.0), speedup(40.0)
    assert light > 1.5 and heavy < 1.0


def test_step_costs_enter_the_simulator():
    fw = load_framework("none")
    with_steps = replace(fw, name="steps", per_step_s=2e-3, per_seq_step_s=1e-4)
    hw = load_hardware("a100-80g")
    sc = {"gamma": 0, "draft": None, "workload": {"rate": 1.0, "num_requests": 20, "prompt_tokens": 32,
                                                  "output_tokens": 8}}
    base = simulate(sc, cost=cost.RooflineCost(hw, framework=fw), baseline=False).steps
    more = simulate(sc, cost=cost.RooflineCost(hw, framework=with_steps), baseline=False).steps
    dec_a, dec_b = base[base.batch > 0], more[more.batch > 0]
    extra = (dec_b.busy_s.to_numpy() - dec_a.busy_s.to_numpy()[: len(dec_b)])
    assert extra[0] == pytest.approx(2e-3 + 1e-4 * dec_b.batch.iloc[0])
