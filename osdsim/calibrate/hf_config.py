"""A :class:`ModelSpec` from a Hugging Face ``config.json`` (pure Python: no torch, no transformers).

Covers Llama-shaped configs (Llama, Mistral, Qwen2/3, the small models osdsim trains) and GPT-2
style ones (``n_layer``/``n_embd``). ``params`` defaults to the count the architecture implies.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from osdsim.specs import ModelSpec

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
    return model_spec_from_hf_config(config, name or p.name)


def spec_to_dict(spec: ModelSpec) -> dict[str, Any]:
    return asdict(spec)


def spec_from_dict(data: dict[str, Any]) -> ModelSpec:
    return ModelSpec(**data)


def load_specs(path: str | Path) -> dict[str, ModelSpec]:
    """Model specs saved by ``osdsim profile`` (``<timings>.models.json``: name → spec fields)."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        return {str(name): spec_from_dict(fields) for name, fields in data.items()}
    except (OSError, json.JSONDecodeError, TypeError, AttributeError) as exc:
        raise ValueError(f"cannot read model specs from {p}: {exc}") from None


def small_model_dir(name: str) -> Path | None:
    """The cached directory of osdsim's small model behind a run's name ("osdsim-small-target",
    "osdsim-small-draft-m"), newest first; None if it is not cached (``$OSDSIM_CACHE``)."""
    import os

    if not name.startswith("osdsim-small-"):
        return None
    preset = name[len("osdsim-small-"):]
    cache = Path(os.environ.get("OSDSIM_CACHE", ".cache/osdsim"))
    dirs = sorted((d for d in cache.glob(f"{preset}-*") if (d / "config.json").is_file()),
                  key=lambda d: d.stat().st_mtime, reverse=True)
    return dirs[0] if dirs else None


def resolve_spec(name: str, specs: dict[str, ModelSpec], card: str | None = None) -> ModelSpec:
    """The spec for model ``name`` of a trace or timing table, renamed to ``name``: an explicit
    LLM ``card``; else ``specs`` (from ``osdsim profile``); else ``name`` as a local HF directory;
    else osdsim's cached small model of that name; else the LLM card called ``name``."""
    from osdsim.specs import load_model

    if card:
        return replace(load_model(card), name=name)
    if name in specs:
        return specs[name]
    path = Path(name)
    if (path / "config.json").is_file():
        return model_spec_from_hf_dir(path, name)
    small = small_model_dir(name)
    if small is not None:
        return model_spec_from_hf_dir(small, name)
    try:
        return load_model(name)
    except ValueError:
        raise ValueError(f"no model spec for {name!r}: pass a specs file (--models) or a card") from None
