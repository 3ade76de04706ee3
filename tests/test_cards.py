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
}
EXPECTED_HARDWARE = {"cpu", "a100-40g", "a100-80g", "h100-sxm", "h200", "l4", "a10g"}

# REFERENCE.md, hardware table (vendor spec sheets, dense): memory GB, bandwidth GB/s, bf16 TFLOP/s.
REFERENCE_HARDWARE = {
    "a100-40g": (40, 1555, 312),
    "a100-80g": (80, 2039, 312),
    "h100-sxm": (80, 3350, 989),
    "h200": (141, 4800, 989),
    "l4": (24, 300, 121),
    "a10g": (24, 600, 125),
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
    assert hw.peak_flops["bf16"] == bf16_tflops * 1e12
    assert hw.flops_for("fp16") == bf16_tflops * 1e12


def test_fp8_only_where_the_card_has_it():
    for name in ("h100-sxm", "h200", "l4"):
        assert "fp8" in load_hardware(name).peak_flops, name
    for name in ("a100-40g", "a100-80g", "a10g"):
        assert "fp8" not in load_hardware(name).peak_flops, name


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
