"""The model and hardware cards in models/: every card loads, its numbers agree with its sources,
and malformed cards fail with a CardError that says where."""

from __future__ import annotations

import pytest

from osdsim.specs import (
    CardError,
    HardwareSpec,
    ModelSpec,
    card_names,
    load_hardware,
    load_model,
)

LLM_CARDS = card_names("llm")
HARDWARE_CARDS = card_names("hardware")

# Cards the project promises; a missing file fails here rather than somewhere downstream.
EXPECTED_LLM = {
    "llama-160m", "vicuna-7b-v1.3", "vicuna-68m", "llama-2-7b", "llama-2-13b", "llama-2-70b",
    "llama-3.1-8b", "llama-3.1-70b", "llama-3.2-1b", "tinyllama-1.1b", "qwen2.5-0.5b",
    "qwen2.5-7b", "qwen3-0.6b", "qwen3-8b",
    # Vicuna / LLaMA-1, Llama 2 chat, Llama 3.x and the SpecInfer drafts
    "vicuna-13b-v1.3", "vicuna-33b-v1.3", "llama-68m",
    "llama-2-7b-chat", "llama-2-13b-chat", "llama-2-70b-chat",
    "llama-3-8b", "llama-3-8b-instruct", "llama-3-70b", "llama-3-70b-instruct",
    "llama-3.1-8b-instruct", "llama-3.1-70b-instruct", "llama-3.3-70b-instruct", "llama-3.1-405b",
    "llama-3.2-3b", "llama-3.2-1b-instruct", "llama-3.2-3b-instruct",
    # Qwen2.5 and Qwen2.5-Coder
    "qwen2.5-1.5b", "qwen2.5-3b", "qwen2.5-14b", "qwen2.5-32b", "qwen2.5-72b",
    "qwen2.5-0.5b-instruct", "qwen2.5-7b-instruct", "qwen2.5-72b-instruct",
    "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b", "qwen2.5-coder-3b", "qwen2.5-coder-7b",
    "qwen2.5-coder-32b", "qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-32b-instruct",
    # OPT
    "opt-125m", "opt-350m", "opt-1.3b", "opt-6.7b", "opt-13b", "opt-30b", "opt-66b",
    # others
    "mistral-7b-v0.1", "codellama-7b", "codellama-34b", "deepseek-coder-1.3b", "deepseek-coder-6.7b",
    "deepseek-coder-33b", "smollm2-135m-instruct", "smollm2-360m", "smollm2-1.7b",
    # LLaMA-1, Code Llama 13B, Gemma 2, Qwen2, the DeepSeek-R1 distills and the 32K Llama 2
    "llama-7b", "llama-13b", "llama-30b", "llama-65b", "codellama-13b", "gemma-2-9b", "qwen2-0.5b",
    "deepseek-r1-distill-qwen-1.5b", "deepseek-r1-distill-qwen-32b", "deepseek-r1-distill-llama-8b",
    "deepseek-r1-distill-llama-70b", "llama-2-7b-32k",
}
# The hardware cards that existed before serving-framework cards; they still carry framework overheads.
PREEXISTING_HARDWARE = {"cpu", "a100-40g", "a100-80g", "h100-sxm", "h200", "l4", "a10g"}
EXPECTED_HARDWARE = PREEXISTING_HARDWARE | {
    "rtx-3090", "rtx-4090", "rtx-3060-12g", "l40s", "l40", "a40", "a6000", "a100-80g-pcie",
    "h100-pcie", "h100-nvl", "mi300x", "m2-ultra", "m3-max", "t4", "v100-sxm2-32g",
    "rtx-5060-ti", "gtx-1080-ti", "tesla-p40", "m1-ultra", "m1-pro", "radeon-pro-w7900",
}

# docs/reference.md, hardware table (vendor spec sheets, dense): memory GB, bandwidth GB/s, bf16 TFLOP/s
# (fp16 where the part has no bf16: T4, V100, Apple GPUs, and Pascal, where it is the 1/64-rate figure).
REFERENCE_HARDWARE = {
    "a100-40g": (40, 1555, 312),
    "a100-80g": (80, 2039, 312),
    "h100-sxm": (80, 3350, 989),
    "h200": (141, 4800, 989),
    "l4": (24, 300, 121),
    "a10g": (24, 600, 125),
    # NVIDIA Ampere GA102 whitepaper v2, Appendix A (RTX 3090): BF16/FP16 tensor with FP32 accumulate 71 dense.
    "rtx-3090": (24, 936, 71),
    # NVIDIA Ada GPU architecture whitepaper (RTX 4090): BF16/FP16 tensor with FP32 accumulate 165.2 dense.
    "rtx-4090": (24, 1008, 165.2),
    # RTX 3060 product page (12 GB, 360 GB/s); 25.5 is derived from GA10x per-SM rates (NVIDIA prints none).
    "rtx-3060-12g": (12, 360, 25.5),
    # NVIDIA L40S datasheet: BF16 362.05 dense (733 with sparsity).
    "l40s": (48, 864, 362.05),
    # NVIDIA L40 datasheet: BF16 181.05 dense (362.1 with sparsity).
    "l40": (48, 864, 181.05),
    # NVIDIA A40 datasheet: BF16 149.7 dense (299.4 with sparsity).
    "a40": (48, 696, 149.7),
    # NVIDIA RTX A6000 datasheet / GA102 whitepaper Appendix C: 154.8 dense (309.7 with sparsity).
    "a6000": (48, 768, 154.8),
    # NVIDIA A100 datasheet, 80GB PCIe column: 1,935 GB/s, BF16 312 dense.
    "a100-80g-pcie": (80, 1935, 312),
    # NVIDIA H100 datasheet, PCIe column: 2 TB/s, BF16 1,513 with sparsity = 756.5 dense.
    "h100-pcie": (80, 2000, 756.5),
    # NVIDIA H100 datasheet, NVL column (per GPU): 94 GB, 3.9 TB/s, BF16 1,671 with sparsity = 835.5 dense.
    "h100-nvl": (94, 3900, 835.5),
    # AMD Instinct MI300X data sheet: 192 GB HBM3, 5.3 TB/s, FP16/BF16 1,307.4 dense.
    "mi300x": (192, 5300, 1307.4),
    # Apple M2 Ultra announcement: 192 GB, 800 GB/s; FP16 27.2 derived (76 cores x 128 ALUs x 2 x 1.398 GHz).
    "m2-ultra": (192, 800, 27.2),
    # Apple M3 Max (40-core GPU): 128 GB, 400 GB/s; FP16 14.3 derived (40 cores x 128 ALUs x 2 x 1.398 GHz).
    "m3-max": (128, 400, 14.3),
    # NVIDIA T4 datasheet: 16 GB, 320+ GB/s, FP16/FP32 mixed precision 65 (no BF16, no sparsity).
    "t4": (16, 320, 65),
    # NVIDIA V100 datasheet, SXM2 column: 32 GB, 900 GB/s, tensor 125 (FP16, no BF16).
    "v100-sxm2-32g": (32, 900, 125),
    # RTX 5060 Ti launch specs (16 GB GDDR7, 28 Gbps x 128 bit = 448 GB/s); 47.4 is derived: NVIDIA's 759 AI TOPS
    # (FP4, sparse) / 16 = 36 SMs x 512 FLOP/clk x 2.572 GHz, BF16/FP16 with FP32 accumulate (measured 47.0).
    "rtx-5060-ti": (16, 448, 47.4),
    # GTX 1080 Ti spec table (11 GB GDDR5X, 484 GB/s); FP16 0.177 derived at 1/64 of FP32 (CUDA programming guide,
    # cc 6.1: 2 vs 128 results/clk/SM); no tensor cores, no BF16.
    "gtx-1080-ti": (11, 484, 0.177),
    # NVIDIA Tesla P40 datasheet (24 GB GDDR5, 346 GB/s, 12 TFLOPS FP32, 47 TOPS INT8); FP16 0.184 at 1/64 of FP32.
    "tesla-p40": (24, 346, 0.184),
    # Apple M1 Ultra announcement: 128 GB, 800 GB/s; FP16 21.2 derived (64 cores x 128 ALUs x 2 x 1.296 GHz).
    "m1-ultra": (128, 800, 21.2),
    # Apple M1 Pro announcement: 32 GB, 200 GB/s; FP16 5.2 (Apple's keynote figure for the 16-core GPU, as reported).
    "m1-pro": (32, 200, 5.2),
    # AMD Radeon PRO W7900 product page: 48 GB GDDR6, 864 GB/s, peak FP16 122.64 (BF16 WMMA at the same rate).
    "radeon-pro-w7900": (48, 864, 122.64),
}

VALID_MODEL_YAML = """\
num_layers: 2
hidden_size: 64
num_heads: 4
num_kv_heads: 2
intermediate_size: 128
vocab_size: 100
params: 1.2e+5
"""

VALID_HARDWARE_YAML = """\
memory_GB: 1
bandwidth_GBps: 10
peak_TFLOPs:
  bf16: 1
"""


def test_expected_cards_exist():
    assert set(LLM_CARDS) >= EXPECTED_LLM, f"missing: {sorted(EXPECTED_LLM - set(LLM_CARDS))}"
    assert set(HARDWARE_CARDS) >= EXPECTED_HARDWARE, (
        f"missing: {sorted(EXPECTED_HARDWARE - set(HARDWARE_CARDS))}")


@pytest.mark.parametrize("name", LLM_CARDS)
def test_llm_card_loads(name):
    spec = load_model(name)
    assert isinstance(spec, ModelSpec)
    assert spec.name == name
    assert spec.source, f"{name}: cite a source"
    assert spec.family, f"{name}: family is empty"
    assert spec.num_heads % spec.num_kv_heads == 0
    assert spec.max_context > 0


@pytest.mark.parametrize("name", LLM_CARDS)
def test_computed_params_match_published(name):
    spec = load_model(name)
    ratio = spec.computed_params / spec.params
    assert abs(ratio - 1) <= 0.02, (
        f"{name}: architecture gives {spec.computed_params:,}, card says {spec.params:,.0f} "
        f"(ratio {ratio:.4f})")


@pytest.mark.parametrize("name", HARDWARE_CARDS)
def test_hardware_card_loads(name):
    hw = load_hardware(name)
    assert isinstance(hw, HardwareSpec)
    assert hw.name == name
    assert hw.source, f"{name}: cite a source"
    assert hw.flops_for(hw.default_dtype) > 0
    assert hw.ridge_point > 0
    assert hw.gpus_per_node >= 1


def test_llama2_7b_and_vicuna_7b_exact_count():
    # 32 x (4·4096² + 3·4096·11008 + 2·4096) + 2·32000·4096 + 4096: the HF checkpoints' count.
    assert load_model("llama-2-7b").computed_params == 6_738_415_616
    assert load_model("vicuna-7b-v1.3").computed_params == 6_738_415_616


def test_llama31_8b_count():
    assert load_model("llama-3.1-8b").computed_params == pytest.approx(8.03e9, rel=0.005)


def test_gqa_and_tied_embeddings_are_read():
    llama32 = load_model("llama-3.2-1b")
    assert llama32.tied_embeddings
    assert llama32.kv_dim == 8 * 64
    # Tied: the embedding is counted once, but the LM head still takes part in every matmul.
    assert llama32.computed_params == llama32.embedding_params + 16 * llama32.layer_params + 2048
    assert llama32.matmul_params == 16 * llama32.layer_params + llama32.lm_head_params


def test_qwen_flags_are_read():
    assert load_model("qwen2.5-0.5b").qkv_bias
    assert not load_model("qwen2.5-0.5b").qk_norm
    qwen3 = load_model("qwen3-0.6b")
    assert qwen3.qk_norm and not qwen3.qkv_bias
    assert qwen3.head_dim == 128  # not hidden/heads = 64
    assert qwen3.q_dim == 2048
    assert load_model("qwen3-8b").head_dim == 128


@pytest.mark.parametrize("name", sorted(REFERENCE_HARDWARE))
def test_hardware_matches_reference_table(name):
    memory_gb, bandwidth_gbps, bf16_tflops = REFERENCE_HARDWARE[name]
    hw = load_hardware(name)
    assert hw.memory_bytes == memory_gb * 1e9
    assert hw.bandwidth_Bps == bandwidth_gbps * 1e9
    half = "bf16" if "bf16" in hw.peak_flops else "fp16"
    assert hw.peak_flops[half] == bf16_tflops * 1e12
    assert hw.flops_for("fp16") == bf16_tflops * 1e12


def test_every_hardware_card_is_in_the_reference_table():
    assert set(HARDWARE_CARDS) - {"cpu"} <= set(REFERENCE_HARDWARE)


def test_fp8_only_where_the_card_has_it():
    for name in ("h100-sxm", "h200", "l4", "h100-pcie", "h100-nvl", "l40s", "l40", "rtx-4090", "mi300x"):
        assert "fp8" in load_hardware(name).peak_flops, name
    assert "fp8" in load_hardware("rtx-5060-ti").peak_flops
    for name in ("a100-40g", "a100-80g", "a10g", "a100-80g-pcie", "a40", "a6000", "rtx-3090",
                 "rtx-3060-12g", "t4", "v100-sxm2-32g", "m2-ultra", "m3-max", "m1-ultra", "m1-pro",
                 "gtx-1080-ti", "tesla-p40", "radeon-pro-w7900"):
        assert "fp8" not in load_hardware(name).peak_flops, name


def test_no_bf16_peak_on_parts_without_bf16():
    # Turing, Volta and Apple GPUs have no BF16 units; their cards must not invent a bf16 peak.
    for name in ("t4", "v100-sxm2-32g", "m2-ultra", "m3-max", "m1-ultra", "m1-pro"):
        hw = load_hardware(name)
        assert "bf16" not in hw.peak_flops, name
        assert hw.default_dtype == "fp16", name


def test_pascal_cards_have_no_fast_half_precision():
    # GP102 has no tensor cores and runs FP16 at 1/64 of FP32 (compute capability 6.1): no bf16/tf32 peak, an fp16
    # peak far below fp32, and fp32 as the default dtype.
    for name in ("gtx-1080-ti", "tesla-p40"):
        hw = load_hardware(name)
        assert not {"bf16", "tf32", "fp8"} & set(hw.peak_flops), name
        assert hw.default_dtype == "fp32", name
        assert hw.peak_flops["fp16"] == pytest.approx(hw.peak_flops["fp32"] / 64, rel=0.01), name
    assert load_hardware("tesla-p40").peak_flops["int8"] == 47e12  # dp4a, datasheet


def test_cards_without_a_gpu_link_are_single_devices():
    for name in ("rtx-5060-ti", "gtx-1080-ti", "tesla-p40", "m1-ultra", "m1-pro", "radeon-pro-w7900"):
        hw = load_hardware(name)
        assert hw.interconnect_Bps == 0 and hw.gpus_per_node == 1, name


@pytest.mark.parametrize("name", sorted(set(HARDWARE_CARDS) - PREEXISTING_HARDWARE))
def test_new_hardware_cards_hold_hardware_facts_only(name):
    # Framework overheads live in serving-framework cards; only the cards that predate them carry any.
    hw = load_hardware(name)
    assert hw.overhead_per_forward_s == 0, name
    assert hw.overhead_per_layer_s == 0, name
    assert hw.source.startswith("https://"), f"{name}: source must be a URL"
    assert hw.interconnect_Bps > 0 or hw.gpus_per_node == 1, f"{name}: a multi-GPU node needs a link"


def test_llm_sources_are_urls():
    for name in LLM_CARDS:
        assert load_model(name).source.startswith("https://"), name


def test_unknown_card_lists_known_names():
    with pytest.raises(CardError) as info:
        load_model("no-such-model")
    message = str(info.value)
    assert "no-such-model" in message
    assert "vicuna-7b-v1.3" in message and "llama-160m" in message
    assert isinstance(info.value, ValueError)

    with pytest.raises(CardError) as info:
        load_hardware("no-such-gpu")
    assert "a100-80g" in str(info.value) and "h100-sxm" in str(info.value)


def test_malformed_yaml_names_file_and_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("num_layers: 2\nhidden_size: 64\nnum_heads: [4, 2\nvocab_size: 100\n")
    with pytest.raises(CardError) as info:
        load_model(str(path))
    message = str(info.value)
    assert str(path) in message
    assert "line 4" in message


def test_malformed_hardware_yaml_names_file_and_line(tmp_path):
    path = tmp_path / "broken-hw.yaml"
    path.write_text("memory_GB: 1\n  bandwidth_GBps: 10\n")
    with pytest.raises(CardError) as info:
        load_hardware(str(path))
    assert str(path) in str(info.value)
    assert "line 2" in str(info.value)


def test_valid_tmp_cards_load(tmp_path):
    # The fixtures below differ from these only in the one field under test.
    model_path = tmp_path / "tiny.yaml"
    model_path.write_text(VALID_MODEL_YAML)
    assert load_model(str(model_path)).num_kv_heads == 2
    hw_path = tmp_path / "tiny-hw.yaml"
    hw_path.write_text(VALID_HARDWARE_YAML)
    assert load_hardware(str(hw_path)).bandwidth_Bps == 10e9


def test_unknown_field_is_named(tmp_path):
    path = tmp_path / "extra.yaml"
    path.write_text(VALID_MODEL_YAML + "num_experts: 8\n")
    with pytest.raises(CardError) as info:
        load_model(str(path))
    assert "num_experts" in str(info.value)
    assert str(path) in str(info.value)

    hw_path = tmp_path / "extra-hw.yaml"
    hw_path.write_text(VALID_HARDWARE_YAML + "hbm_stacks: 5\n")
    with pytest.raises(CardError) as info:
        load_hardware(str(hw_path))
    assert "hbm_stacks" in str(info.value)


@pytest.mark.parametrize("field, value", [
    ("hidden_size", "wide"),
    ("params", "lots"),
    ("num_layers", "true"),
    ("num_layers", "2.5"),
])
def test_non_number_model_field_raises(tmp_path, field, value):
    lines = [line for line in VALID_MODEL_YAML.splitlines() if not line.startswith(f"{field}:")]
    path = tmp_path / "nan.yaml"
    path.write_text("\n".join([*lines, f"{field}: {value}"]) + "\n")
    with pytest.raises(CardError) as info:
        load_model(str(path))
    assert field in str(info.value)


@pytest.mark.parametrize("text, field", [
    ("memory_GB: 1\nbandwidth_GBps: fast\npeak_TFLOPs:\n  bf16: 1\n", "bandwidth_GBps"),
    ("memory_GB: 1\nbandwidth_GBps: 10\npeak_TFLOPs:\n  bf16: many\n", "peak_TFLOPs.bf16"),
    ("memory_GB: 1\nbandwidth_GBps: 10\npeak_TFLOPs: 5\n", "peak_TFLOPs"),
])
def test_non_number_hardware_field_raises(tmp_path, text, field):
    path = tmp_path / "nan-hw.yaml"
    path.write_text(text)
    with pytest.raises(CardError) as info:
        load_hardware(str(path))
    assert field in str(info.value)


def test_hardware_card_measured_updates_round_trip_and_errors(tmp_path):
    import yaml

    from osdsim.specs import CardError, load_hardware

    base = {"memory_GB": 24, "bandwidth_GBps": 20, "peak_TFLOPs": {"fp32": 0.1}, "default_dtype": "fp32"}
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump({**base, "measured_updates": [{"model": "d", "num_tokens": 180, "seconds": 0.3}]}))
    assert load_hardware(str(good)).measured_updates == (("d", 180.0, 0.3),)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**base, "measured_updates": [{"model": "d", "seconds": 0.3}]}))
    with pytest.raises(CardError, match="bad.yaml: measured_updates row 0"):
        load_hardware(str(bad))


@pytest.mark.parametrize(("field", "row", "message"), [
    ("measured_updates", {"model": "d", "num_tokens": 0, "seconds": 0.3}, "num_tokens"),
    ("measured_updates", {"model": "d", "num_tokens": 10, "seconds": -1}, "seconds"),
    ("measured", {"model": "d", "batch": 1, "new_tokens": 1, "context": 0, "seconds": "nan"}, "seconds"),
    ("measured", {"model": "d", "batch": 0, "new_tokens": 1, "context": 0, "seconds": 0.1}, "batch"),
    ("measured", {"model": "d", "batch": 1, "new_tokens": 1, "context": -5, "seconds": 0.1}, "context"),
])
def test_hardware_card_rejects_timing_rows_out_of_range(tmp_path, field, row, message):
    import yaml

    from osdsim.specs import CardError, load_hardware

    base = {"memory_GB": 24, "bandwidth_GBps": 20, "peak_TFLOPs": {"fp32": 0.1}, "default_dtype": "fp32"}
    path = tmp_path / f"bad-{field}-{message}.yaml"
    path.write_text(yaml.safe_dump({**base, field: [row]}))
    with pytest.raises(CardError, match=rf"{path.name}: field '{field}\[0\]\.{message}'"):
        load_hardware(str(path))


def test_calibrated_card_with_updates_round_trips_through_the_writer(tmp_path):
    import pandas as pd
    import yaml

    from osdsim.calibrate import hardware_card
    from osdsim.specs import load_hardware

    hw = load_hardware("cpu")
    rows = pd.DataFrame({"model": ["t"], "batch": [1], "new_tokens": [4], "context": [30], "seconds": [0.012]})
    updates = pd.DataFrame({"model": ["d", "d"], "num_tokens": [100, 300], "seconds": [0.25, 0.31]})
    path = tmp_path / "written.yaml"
    path.write_text(yaml.safe_dump(hardware_card(hw, rows, source="test", updates=updates)))
    card = load_hardware(str(path))
    assert card.measured == (("t", 1.0, 4.0, 30.0, 0.012),)
    assert card.measured_updates == (("d", 100.0, 0.25), ("d", 300.0, 0.31))


# ---------------------------------------------------------------- aliases (``like:``)
