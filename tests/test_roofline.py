"""Roofline of one forward: regimes, hand-computed FLOPs and bytes, tensor parallelism, capacity."""

from dataclasses import replace

import numpy as np
import pytest

from osdsim import cost
from osdsim.specs import FrameworkSpec, load_hardware, load_model


@pytest.fixture(scope="module")
def pair():
    return load_model("vicuna-7b-v1.3"), load_model("llama-160m"), load_hardware("a100-80g")


def test_decode_batch1_is_memory_bound_and_prefill_compute_bound(pair):
    target, _, hw = pair
    assert cost.forward_cost(target, hw, 1, 1, 512).bound == "memory"
    assert cost.forward_cost(target, hw, 1, 2048, 0).bound == "compute"


def test_flops_hand_computed(pair):
    target, _, _ = pair
    # One token, no context: 2 FLOPs per matmul parameter + attention to itself (attended = 1).
    expected = 2 * target.matmul_params + 4 * target.num_layers * target.q_dim * 1.0
    assert cost.forward_flops(target, 1, 1, 0) == pytest.approx(expected)
    # Attention grows linearly with context: 4 L q_dim per token per extra context token.
    diff = cost.forward_flops(target, 1, 1, 100) - cost.forward_flops(target, 1, 1, 0)
    assert diff == pytest.approx(4 * target.num_layers * target.q_dim * 100)


def test_bytes_weights_dominate_decode(pair):
    target, _, _ = pair
    b = cost.forward_bytes(target, 1, 1, 0, dtype="bf16")
    assert b == pytest.approx(2 * target.matmul_params, rel=0.01)
    # KV read per cached token: 2 (K, V) x layers x kv_dim x 2 bytes = 524,288 bytes for LLaMA-7B.
    per_token = cost.forward_bytes(target, 1, 1, 1001) - cost.forward_bytes(target, 1, 1, 1000)
    assert per_token == pytest.approx(2 * 32 * 4096 * 2)


def test_gqa_shrinks_kv_traffic():
    l2, l3 = load_model("llama-2-70b"), load_model("llama-3.1-70b")
    assert l2.num_kv_heads == 8 and l3.num_kv_heads == 8
    mha = load_model("llama-2-13b")
    assert mha.kv_bytes_per_token(2) == 2 * 40 * 5120 * 2  # 40 heads, no grouping


EAGER = FrameworkSpec("eager-test", host_per_forward_s=1e-3, host_per_layer_s=3e-4, host_per_seq_s=1e-5,
                      sync_per_forward_s=5e-5, overlap=True)


def test_gpu_forward_is_max_of_device_and_host_plus_sync(pair):
    target, draft, hw = pair
    fc = cost.forward_cost(target, hw, 4, 3, 300, framework=EAGER)
    device = max(float(fc.compute_s), float(fc.memory_s))
    host = 1e-3 + 32 * 3e-4 + 4 * 1e-5  # 10.64 ms of launches for 32 layers: more than the ~8 ms device time
    assert float(fc.overhead_s) == pytest.approx(host)
    assert host > device and fc.bound == "overhead"
    assert float(fc.time_s) == pytest.approx(host + 5e-5)
    # A 7B forward at batch 64 moves more than its launches take: device-bound, host hidden.
    big = cost.forward_cost(target, hw, 64, 6, 300, framework=EAGER)
    assert float(big.time_s) == pytest.approx(max(float(big.compute_s), float(big.memory_s)) + 5e-5)


def test_cpu_forward_adds_host_and_device(pair):
    target, _, hw = pair
    serial = replace(EAGER, overlap=False)
    fc = cost.forward_cost(target, hw, 4, 3, 300, framework=serial)
    device = max(float(fc.compute_s), float(fc.memory_s))
    assert float(fc.time_s) == pytest.approx(device + 1e-3 + 32 * 3e-4 + 4e-5 + 5e-5)


def test_small_model_is_overhead_bound(pair):
    _, draft, hw = pair
    assert cost.forward_cost(draft, hw, 1, 1, 128, framework=EAGER).bound == "overhead"
    assert cost.forward_cost(draft, hw, 1, 1, 128, framework="none").bound == "memory"


def test_calibrated_card_overheads_replace_the_framework(pair):
    target, _, _ = pair
    cpu = load_hardware("cpu")  # carries fitted overheads: they price forwards, added
    fc = cost.forward_cost(target, cpu, 1, 1, 100, framework=EAGER)
    device = max(float(fc.compute_s), float(fc.memory_s))
    assert float(fc.time_s) == pytest.approx(device + cpu.overhead_per_forward_s + 32 * cpu.overhead_per_layer_s)
    assert fc.framework == "calibrated card cpu"


def test_speculation_loses_past_ridge_point(pair):
    target, draft, hw = pair
    # The bare roofline (no framework costs): alpha 0.7, gamma 5: at batch 1 the verify is
    # memory-bound and speculation pays.
    assert cost.spec_speedup(0.7, target, draft, hw, 1, 5, 64, framework="none") > 1.1
    # At batch 128 the verify over 128 x 6 = 768 tokens is far past the A100's ridge point
    # (~143 FLOPs/byte with the card's efficiencies: FLOPs/byte of a 7B forward ~ tokens), so the
    # step costs ~6 plain steps while emitting tau(0.7, 5) = 2.94 tokens: a loss.
    assert cost.forward_cost(target, hw, 128, 6, 64, framework="none").bound == "compute"
    assert cost.spec_speedup(0.7, target, draft, hw, 128, 5, 64, framework="none") < 0.8
    speeds = cost.spec_speedup(0.7, target, draft, hw, np.array([1, 16, 64, 256]), 5, 64, framework="none")
    assert np.all(np.diff(speeds[1:]) < 0)


def test_c_from_cards_matches_ratio(pair):
    target, draft, hw = pair
    c = cost.c_from_cards(target, draft, hw, 1, 256)
    assert c == pytest.approx(cost.forward_time(draft, hw, 1, 1, 256) / cost.forward_time(target, hw, 1, 1, 256))
    assert 0 < c < 1


def test_tensor_parallel_splits_weights_and_adds_allreduce():
    model, hw = load_model("llama-3.1-70b"), load_hardware("h100-sxm")
    one = cost.forward_cost(model, hw, 1, 1, 0, tp=1)
    four = cost.forward_cost(model, hw, 1, 1, 0, tp=4)
    assert float(four.memory_s) == pytest.approx(float(one.memory_s) / 4, rel=0.02)
    assert float(four.comm_s) > 0 and float(one.comm_s) == 0
    # 2 all-reduces per layer, each at least the fixed latency.
    assert float(four.comm_s) >= 2 * model.num_layers * hw.interconnect_latency_s
    # 141 GB of bf16 weights: two 80 GB cards hold them with ~3 GB left, short of the 10% headroom
    # min_tp asks for, so four.
    assert cost.min_tp(model, hw) == 4
    with pytest.raises(ValueError, match="tp"):
        cost.forward_cost(model, hw, 1, 1, 0, tp=3)


def test_kv_capacity(pair):
    target, draft, hw = pair
    tokens = cost.kv_capacity_tokens(target, hw)
    expected = (80e9 * 0.9 - 2 * target.computed_params) / (2 * 32 * 4096 * 2)
    assert tokens == pytest.approx(expected)
    assert cost.kv_capacity_tokens(target, hw, draft=draft) < tokens
    assert cost.kv_capacity_tokens(load_model("llama-3.1-70b"), hw) == 0.0


@pytest.mark.parametrize("field,args", [("batch", (0, 1, 0)), ("new_tokens", (1, 0, 0)), ("context", (1, 1, -1))])
def test_bad_inputs(pair, field, args):
    target, _, hw = pair
    with pytest.raises(ValueError, match=field):
        cost.forward_cost(target, hw, *args)


def test_vectorised_matches_scalar(pair):
    target, draft, hw = pair
    batches = np.array([1, 8, 64])
    vec = cost.spec_step_time(target, draft, hw, batches, 4, 128)
    for b, v in zip(batches, vec):
        assert v == pytest.approx(cost.spec_step_time(target, draft, hw, int(b), 4, 128))
