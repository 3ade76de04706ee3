"""A :class:`ModelSpec` from a Hugging Face ``config.json`` (pure Python: no torch, no transformers).

Covers Llama-shaped configs (Llama, Mistral, Qwen2/3, the small models osdsim trains) and GPT-2
style ones (``n_layer``/``n_embd``). ``params`` defaults to the count the architecture implies.
Every command that takes an LLM card also takes such a file or its model folder
(:func:`osdsim.specs.load_model`), and ``osdsim cards new --from-hf`` writes it out as a card.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from osdsim.specs.model import ModelSpec

_GPT2_KEYS = {"num_layers": "n_layer", "hidden_size": "n_embd", "num_heads": "n_head"}


def _get(config: dict[str, Any], *keys: str, default: Any = None) -> Any:
    for key in keys:
        if config.get(key) is not None:
            return config[key]
    if default is None:
        raise ValueError(f"HF config lacks {' / '.join(keys)}")
    return default


def model_spec_from_hf_config(config: dict[str, Any], name: str, params: float | None = None) -> ModelSpec:
    """The ModelSpec of a decoder-only HF config dict; ``params`` None means computed from shapes."""
    if not isinstance(config, dict):
        raise ValueError("an HF config must be a mapping")
    model_type = str(config.get("model_type", "llama"))
    gpt2 = model_type in ("gpt2", "gpt_neo", "gptj") or "n_embd" in config
    hidden = int(_get(config, "hidden_size", "n_embd"))
    heads = int(_get(config, "num_attention_heads", "n_head"))
    fields: dict[str, Any] = {
        "name": name,
        "num_layers": int(_get(config, "num_hidden_layers", "n_layer")),
        "hidden_size": hidden,
        "num_heads": heads,
        "num_kv_heads": int(_get(config, "num_key_value_heads", default=heads)),
        "intermediate_size": int(_get(config, "intermediate_size", "n_inner", default=4 * hidden)),
        "vocab_size": int(_get(config, "vocab_size")),
        "head_dim": int(config.get("head_dim") or 0),
        "tied_embeddings": bool(config.get("tie_word_embeddings", gpt2)),
        "gated_mlp": not gpt2,
        "qkv_bias": bool(config.get("attention_bias", model_type == "qwen2")),
        "qk_norm": model_type == "qwen3",
        # an osdsim draft's reduced head, as osdsim profile records it (osdsim.real.drafts)
        "head_vocab": int(config.get("osdsim_head_vocab") or 0),
        "max_context": int(_get(config, "max_position_embeddings", "n_positions", default=4096)),
        "family": model_type,
        "source": "HF config.json",
        "params": 1.0,
    }
    spec = ModelSpec(**fields)
    return replace(spec, params=float(params) if params else float(spec.computed_params))


def model_spec_from_hf_dir(path: str | Path, name: str | None = None) -> ModelSpec:
    """The ModelSpec of a local HF model directory (reads its ``config.json``)."""
    p = Path(path)
    cfg = p / "config.json" if p.is_dir() else p
    try:
        config = json.loads(cfg.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read HF config {cfg}: {exc}") from None
    if not isinstance(config, dict):
        raise ValueError(f"{cfg}: an HF config.json must hold a mapping")
    spec = model_spec_from_hf_config(config, name or (p.name if p.is_dir() else p.parent.name or p.stem))
    return _reduced_head(spec, cfg.parent / "osdsim-draft.json")


def _reduced_head(spec, path: Path):
    """An osdsim draft with a reduced head (``osdsim-draft.json`` beside its config: ``keep``
    kept tokens + one "other" row) multiplies by keep + 1 head rows, not the vocabulary."""
    if not path.is_file():
        return spec
    from dataclasses import replace

    try:
        keep = json.loads(path.read_text(encoding="utf-8"))["keep"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    if not isinstance(keep, int) or isinstance(keep, bool) or not 1 <= keep < spec.vocab_size:
        raise ValueError(f"{path}: keep must be a whole number in 1..{spec.vocab_size - 1}, got {keep!r}")
    return replace(spec, head_vocab=keep + 1)
