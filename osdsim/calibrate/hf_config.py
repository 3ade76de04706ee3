"""Model specs of real runs: HF ``config.json`` files (the converter lives in
:mod:`osdsim.specs.hf`, so a config is accepted wherever an LLM card is), the specs file
``osdsim profile`` writes, and osdsim's cached small models.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from osdsim.safe.loaders import load_json
from osdsim.specs import ModelSpec
from osdsim.specs.hf import model_spec_from_hf_config, model_spec_from_hf_dir  # noqa: F401 - re-exported


def spec_to_dict(spec: ModelSpec) -> dict[str, Any]:
    return asdict(spec)


def spec_from_dict(data: dict[str, Any]) -> ModelSpec:
    return ModelSpec(**data)


def load_specs(path: str | Path) -> dict[str, ModelSpec]:
    """Model specs saved by ``osdsim profile`` (``<timings>.models.json``: name → spec fields)."""
    p = Path(path)
    try:
        data = load_json(p.read_text(encoding="utf-8"), str(p))  # bounded: no NaN, no deep nesting
        return {str(name): spec_from_dict(fields) for name, fields in data.items()}
    except (OSError, ValueError, TypeError, AttributeError) as exc:
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
