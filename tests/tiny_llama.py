"""Tiny random Llama models for the real-run tests (seconds on a CPU); import after
``pytest.importorskip("torch")`` and ``("transformers")``."""

from __future__ import annotations

import torch
from transformers import LlamaConfig, LlamaForCausalLM


def tiny(hidden: int, layers: int, seed: int, vocab: int = 64):
    """A randomly initialised Llama (two heads, up to 256 positions), in eval mode."""
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=hidden, intermediate_size=2 * hidden,
                      num_hidden_layers=layers, num_attention_heads=2, num_key_value_heads=2,
                      max_position_embeddings=256)
    return LlamaForCausalLM(cfg).eval()
