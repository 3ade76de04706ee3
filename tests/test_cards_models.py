"""Model cards that start from another (``like:``) and the architecture details particular
model families need (Qwen biases, OPT shapes, exact counts of the large Llamas)."""

from __future__ import annotations

from dataclasses import fields

import pytest

from osdsim.specs import CardError, ModelSpec, card_names, load_hardware, load_model
from osdsim.specs.cards import models_dir, read_yaml

LLM_CARDS = card_names("llm")

# Aliases (``like:``) and the fields each one sets besides its source.
ALIASES = {
    "llama-2-7b-chat": ("llama-2-7b", set()),
    "llama-2-13b-chat": ("llama-2-13b", set()),
    "llama-2-70b-chat": ("llama-2-70b", set()),
    "llama-3-8b-instruct": ("llama-3-8b", set()),
    "llama-3-70b-instruct": ("llama-3-70b", set()),
    "llama-3.1-8b-instruct": ("llama-3.1-8b", set()),
    "llama-3.1-70b-instruct": ("llama-3.1-70b", set()),
    "llama-3.3-70b-instruct": ("llama-3.1-70b", set()),
    "llama-3.2-1b-instruct": ("llama-3.2-1b", set()),
    "llama-3.2-3b-instruct": ("llama-3.2-3b", set()),
    "qwen2.5-0.5b-instruct": ("qwen2.5-0.5b", set()),
    "qwen2.5-7b-instruct": ("qwen2.5-7b", {"max_context"}),  # the -Instruct config ships 32768
    "qwen2.5-72b-instruct": ("qwen2.5-72b", {"max_context"}),
    "qwen2.5-coder-0.5b-instruct": ("qwen2.5-coder-0.5b", set()),
    "qwen2.5-coder-32b-instruct": ("qwen2.5-coder-32b", set()),
    # LLaMA-1 base models share the config of their Vicuna v1.3 fine-tunes.
    "llama-7b": ("vicuna-7b-v1.3", set()),
    "llama-13b": ("vicuna-13b-v1.3", set()),
    "llama-30b": ("vicuna-33b-v1.3", set()),
    "qwen2-0.5b": ("qwen2.5-0.5b", {"max_context"}),  # the Qwen2 base config ships 131072
    "llama-2-7b-32k": ("llama-2-7b", {"max_context"}),  # linear RoPE interpolation to 32768
    "deepseek-r1-distill-qwen-32b": ("qwen2.5-32b", set()),
    "deepseek-r1-distill-llama-8b": ("llama-3.1-8b", set()),
    "deepseek-r1-distill-llama-70b": ("llama-3.3-70b-instruct", set()),  # based on Llama-3.3-70B-Instruct
}


_ARCH_FIELDS_SKIPPED = {"name", "source"}


def _differing_fields(a: ModelSpec, b: ModelSpec) -> set[str]:
    return {f.name for f in fields(ModelSpec)
            if f.name not in _ARCH_FIELDS_SKIPPED and getattr(a, f.name) != getattr(b, f.name)}


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_alias_equals_its_base_but_name_and_source(alias):
    base, overridden = ALIASES[alias]
    raw = read_yaml(models_dir() / "llm" / f"{alias}.yaml")
    assert raw["like"] == base
    assert set(raw) == {"like", "source"} | overridden, "an alias lists only what differs"
    card, base_card = load_model(alias), load_model(base)
    assert card.name == alias and card.source != base_card.source
    assert _differing_fields(card, base_card) == overridden
    assert card.computed_params == base_card.computed_params


def test_every_shipped_alias_is_listed():
    shipped = {n for n in LLM_CARDS if "like" in read_yaml(models_dir() / "llm" / f"{n}.yaml")}
    assert shipped == set(ALIASES)


def test_alias_of_an_alias_follows_the_chain(tmp_path):
    path = tmp_path / "renamed.yaml"
    path.write_text("like: llama-3.3-70b-instruct\nsource: https://example.org/renamed\n")
    card = load_model(str(path))
    assert card.name == "renamed" and card.source == "https://example.org/renamed"
    assert not _differing_fields(card, load_model("llama-3.1-70b"))


def test_alias_naming_an_unknown_card_raises(tmp_path):
    path = tmp_path / "orphan.yaml"
    path.write_text("like: no-such-base-model\nsource: https://example.org\n")
    with pytest.raises(CardError) as info:
        load_model(str(path))
    assert str(path) in str(info.value)
    assert "no-such-base-model" in str(info.value)


def test_alias_cycle_raises(tmp_path):
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text(f"like: {second}\nsource: https://example.org/1\n")
    second.write_text(f"like: {first}\nsource: https://example.org/2\n")
    with pytest.raises(CardError) as info:
        load_model(str(first))
    assert str(first) in str(info.value)
    assert "cycle" in str(info.value)


@pytest.mark.parametrize("value", ["5", "[llama-2-7b]", "{name: llama-2-7b}", "true", "''"])
def test_non_string_like_raises(tmp_path, value):
    path = tmp_path / "badlike.yaml"
    path.write_text(f"like: {value}\nsource: https://example.org\n")
    with pytest.raises(CardError) as info:
        load_model(str(path))
    assert str(path) in str(info.value)
    assert "like" in str(info.value)


def test_hardware_alias(tmp_path):
    path = tmp_path / "a100-80g-derated.yaml"
    path.write_text("like: a100-80g\nbandwidth_GBps: 1600\nsource: https://example.org\n")
    hw, base = load_hardware(str(path)), load_hardware("a100-80g")
    assert hw.name == "a100-80g-derated"
    assert hw.bandwidth_Bps == 1600e9
    assert hw.memory_bytes == base.memory_bytes and hw.peak_flops == base.peak_flops
    bad = tmp_path / "no-base.yaml"
    bad.write_text("like: no-such-gpu\nsource: https://example.org\n")
    with pytest.raises(CardError) as info:
        load_hardware(str(bad))
    assert str(bad) in str(info.value)


# ---------------------------------------------------------------- family-specific checks

def test_qwen25_flags():
    for name in LLM_CARDS:
        if name.startswith("qwen2.5"):
            spec = load_model(name)
            assert spec.qkv_bias and not spec.qk_norm, name
            # Qwen2.5 ties embeddings up to 3B (hidden <= 2048) and unties them from 7B on.
            assert spec.tied_embeddings == (spec.hidden_size <= 2048), name


def test_opt_cards_are_gpt_shaped():
    for name in LLM_CARDS:
        if name.startswith("opt-"):
            spec = load_model(name)
            assert not spec.gated_mlp and spec.tied_embeddings and not spec.qkv_bias, name
            assert spec.num_kv_heads == spec.num_heads and spec.max_context == 2048, name
    # OPT-350M: a 512-wide embedding written as 25136 rows of 1024 (same weight count as 50272 x 512).
    assert load_model("opt-350m").embedding_params == 50272 * 512
    assert load_model("opt-6.7b").vocab_size == 50272


def test_large_llama_counts():
    assert load_model("llama-3.1-405b").computed_params == 405_853_388_800
    assert load_model("llama-3-8b").computed_params == load_model("llama-3.1-8b").computed_params
    assert load_model("vicuna-33b-v1.3").computed_params == 32_528_943_616
    assert load_model("llama-3.2-3b").tied_embeddings
    # LLaMA-1 65B: 80 x (4·8192² + 3·8192·22016 + 2·8192) + 2·32000·8192 + 8192 (paper: 65.2B).
    assert load_model("llama-65b").computed_params == 65_285_660_672
    assert load_model("codellama-13b").computed_params == 13_016_028_160


def test_gemma2_9b_within_its_extra_norms():
    # Gemma 2 has four RMSNorms per block; ModelSpec counts two, so the card is short by exactly 42 x 2 x 3584
    # of the report's 917,504,000 + 8,324,201,984 parameters.
    gemma = load_model("gemma-2-9b")
    assert gemma.tied_embeddings and gemma.head_dim == 256 and gemma.q_dim == 4096
    assert gemma.embedding_params == 917_504_000
    assert gemma.computed_params + 42 * 2 * 3584 == 917_504_000 + 8_324_201_984


def test_r1_distill_qwen_1_5b_unties_the_head():
    # Not an alias of qwen2.5-1.5b: the same blocks, plus an untied 151936 x 1536 LM head (1,777,088,000 in all).
    distill, base = load_model("deepseek-r1-distill-qwen-1.5b"), load_model("qwen2.5-1.5b")
    assert distill.computed_params == 1_777_088_000
    assert distill.computed_params - base.computed_params == 151936 * 1536
    assert distill.layer_params == base.layer_params and not distill.tied_embeddings
