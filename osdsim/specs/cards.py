"""Loaders for the cards shipped in ``osdsim/cards/{llm,hardware,framework}/*.yaml`` (package data).

A card is named by its file's stem (``vicuna-7b-v1.3``, ``a100-80g``); a path to a YAML file
works too. YAML goes through ``yaml.safe_load`` only. Every field is checked: an unknown one,
a missing one or a malformed number is a :class:`CardError` naming the file and field.

A card may start from another of its kind with ``like: NAME`` and list only what differs (an
instruct or chat fine-tune shares its base model's architecture: ``llama-2-70b-chat`` is
``like: llama-2-70b`` with its own source). Chains are followed up to ``MAX_LIKE_DEPTH`` cards.
"""

from __future__ import annotations

import contextlib
import math
import os
from dataclasses import fields
from functools import lru_cache
from pathlib import Path
from typing import Any

from osdsim.safe.loaders import load_yaml
from osdsim.safe.numbers import InputError, check_number
from osdsim.safe.text import short
from osdsim.specs.framework import FrameworkSpec
from osdsim.specs.hardware import HardwareSpec
from osdsim.specs.model import ModelSpec

MAX_CARD_BYTES = 1_000_000  # cards are small; refuse anything larger than this
MAX_LIKE_DEPTH = 4  # ``like:`` chains longer than this are refused (and cycles with them)
_KINDS = {"llm": "LLM", "hardware": "hardware", "framework": "framework"}

# Hardware cards are written in the units of spec sheets; these convert them to SI.
_HW_UNITS = {
    "memory_GB": ("memory_bytes", 1e9),
    "bandwidth_GBps": ("bandwidth_Bps", 1e9),
    "interconnect_GBps": ("interconnect_Bps", 1e9),
    "interconnect_latency_us": ("interconnect_latency_s", 1e-6),
    "overhead_per_forward_us": ("overhead_per_forward_s", 1e-6),
    "overhead_per_layer_us": ("overhead_per_layer_s", 1e-6),
}


class CardError(ValueError):
    """A card that is missing, unreadable or malformed."""


def models_dir() -> Path:
    """Root of the cards: ``$OSDSIM_MODELS_DIR`` or the package's own ``osdsim/cards/`` (shipped
    in the wheel as package data)."""
    env = os.environ.get("OSDSIM_MODELS_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1] / "cards"


def card_names(kind: str) -> list[str]:
    """Names of the cards of ``kind`` ("llm" or "hardware"), sorted."""
    folder = models_dir() / kind
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def card_path(kind: str, name: str) -> Path:
    """The file behind the card ``name`` of ``kind``: a shipped card, a YAML file, or (an LLM) a
    Hugging Face config.json or model folder."""
    if not isinstance(name, str) or not name:
        raise CardError(f"{_KINDS[kind]} card name must be a non-empty string, got {name!r}")
    if name.endswith((".yaml", ".yml", ".json")) or os.sep in name or "/" in name:
        path = Path(name)
        if kind == "llm" and path.is_dir() and (path / "config.json").is_file():
            return path / "config.json"  # a Hugging Face model folder
        if not path.is_file():
            raise CardError(f"{_KINDS[kind]} card file {name} does not exist")
        if path.suffix == ".json" and kind != "llm":
            raise CardError(f"{name}: a .json file is read as a Hugging Face config.json, which only "
                            f"describes an LLM; a {_KINDS[kind]} card is a YAML file")
        return path
    path = models_dir() / kind / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(card_names(kind)) or "(none)"
        raise CardError(f"unknown {_KINDS[kind]} card {name!r}; known: {known}")
    return path


def read_yaml(path: Path) -> dict[str, Any]:
    """Parse a small YAML mapping safely; errors name the file and line."""
    if path.stat().st_size > MAX_CARD_BYTES:
        raise CardError(f"{path}: file is larger than {MAX_CARD_BYTES} bytes")
    try:  # bounded: nesting depth and alias expansion are capped (osdsim.safe.loaders)
        data = load_yaml(path.read_text(encoding="utf-8"), str(path))
    except InputError as exc:
        raise CardError(str(exc)) from None
    except UnicodeDecodeError:
        raise CardError(f"{path}: not UTF-8 text") from None
    if not isinstance(data, dict):
        raise CardError(f"{path}: expected a mapping of fields, got {type(data).__name__}")
    return data


def _number(path: Path, key: str, value: Any) -> float:
    # Older YAML readers take "1.6e8" for a string; accept numeric strings, reject everything else,
    # and NaN or infinity anywhere (a card's numbers are all finite).
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value)
    try:
        return check_number(value, f"{path}: field {short(key)}")
    except InputError as exc:
        raise CardError(str(exc)) from None


def _build(cls, path: Path, data: dict[str, Any]):
    allowed = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in allowed:
            raise CardError(f"{path}: unknown field {short(key)}; allowed: {', '.join(sorted(allowed))}")
        ftype = str(allowed[key].type)
        if ftype == "int":
            number = _number(path, key, value)
            if number != int(number):
                raise CardError(f"{path}: field {short(key)} must be an integer, got {short(value)}")
            value = int(number)
        elif ftype == "float":
            value = _number(path, key, value)
        elif ftype == "bool" and not isinstance(value, bool):
            raise CardError(f"{path}: field {short(key)} must be true or false, got {short(value)}")
        elif ftype == "str" and not isinstance(value, str):
            raise CardError(f"{path}: field {short(key)} must be a string, got {short(value)}")
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise CardError(f"{path}: {exc}") from None
    except ValueError as exc:
        raise CardError(f"{path}: {exc}") from None


def _read_card(kind: str, path: Path, depth: int = 0) -> dict[str, Any]:
    """The card's fields with those of the card it is ``like`` filled in under its own."""
    return _inherit(kind, dict(read_yaml(path)), path, depth)


def _inherit(kind: str, data: dict[str, Any], path: Path, depth: int = 0) -> dict[str, Any]:
    base = data.pop("like", None)
    if base is None:
        return data
    if depth >= MAX_LIKE_DEPTH:
        raise CardError(f"{path}: 'like' chain is longer than {MAX_LIKE_DEPTH} cards (a cycle?)")
    if not isinstance(base, str) or not base:
        raise CardError(f"{path}: field 'like' must name a {_KINDS[kind]} card, got {str(base)[:60]!r}")
    try:
        inherited = _read_card(kind, card_path(kind, base), depth + 1)
    except CardError as exc:
        raise CardError(f"{path}: like: {exc}") from None
    inherited.pop("name", None)
    return {**inherited, **data}


@lru_cache(maxsize=256)
def _load_model_path(path: str) -> ModelSpec:
    p = Path(path)
    if p.suffix == ".json":  # a Hugging Face config.json: converted, named after its model folder
        from osdsim.specs.hf import model_spec_from_hf_dir

        try:
            return model_spec_from_hf_dir(p)
        except (TypeError, ValueError) as exc:
            raise CardError(f"{p}: not a usable Hugging Face config.json ({exc})") from None
    data = _read_card("llm", p)
    data.setdefault("name", p.stem)
    return _build(ModelSpec, p, data)


# Every cost a framework card must state (or inherit with ``like:``): a missing one would be a
# silent zero, and a prediction priced with it would look right and be wrong.
FRAMEWORK_COSTS = ("host_per_forward_s", "host_per_layer_s", "host_per_seq_s", "sync_per_forward_s", "overlap",
                   "per_step_s", "per_seq_step_s", "spec_per_step_s", "spec_per_token_s", "batch_expansion",
                   "draft_per_forward_s", "small_batch_reread", "bandwidth_efficiency", "compute_efficiency")


def _micro_to_seconds(path: Path, data: dict) -> dict:
    for key in [k for k in data if isinstance(k, str) and k.endswith("_us")]:
        data[key[:-3] + "_s"] = _number(path, key, data.pop(key)) * 1e-6  # cards are in microseconds
    return data


@lru_cache(maxsize=512)
def _load_card_path(kind: str, path: str):
    """A framework or hardware card file, read once (cards are immutable dataclasses)."""
    p = Path(path)
    data = _read_card(kind, p)
    data.setdefault("name", p.stem)
    return (_framework_from_data if kind == "framework" else _hardware_from_data)(p, data)


def _framework_from_data(p: Path, data: dict[str, Any]) -> FrameworkSpec:
    _micro_to_seconds(p, data)
    loso = data.get("loso", {})
    if not isinstance(loso, dict) or not all(isinstance(v, dict) for v in loso.values()):
        raise CardError(f"{p}: field 'loso' must map suite sources to mappings of fields")
    data["loso"] = {str(src): _micro_to_seconds(p, dict(v)) for src, v in loso.items()}
    missing = [k for k in FRAMEWORK_COSTS if k not in data]
    if missing:
        shown = ", ".join(k[:-2] + "_us" if k.endswith("_s") else k for k in missing)
        raise CardError(f"{p}: framework card lacks {shown} (state every cost, or start from another "
                        f"card with like:)")
    return _build(FrameworkSpec, p, data)


def _hardware_from_data(p: Path, data: dict[str, Any]) -> HardwareSpec:
    for key, (field_name, scale) in _HW_UNITS.items():
        if key in data:
            data[field_name] = _number(p, key, data.pop(key)) * scale
    if "peak_TFLOPs" in data:
        peaks = data.pop("peak_TFLOPs")
        if not isinstance(peaks, dict) or not peaks:
            raise CardError(f"{p}: field 'peak_TFLOPs' must map dtypes to TFLOP/s")
        data["peak_flops"] = {str(k): _number(p, f"peak_TFLOPs.{k}", v) * 1e12 for k, v in peaks.items()}
    measured = data.pop("measured", None)
    if measured is not None:
        if not isinstance(measured, list):
            raise CardError(f"{p}: field 'measured' must be a list of timing rows")
        data["measured"] = tuple(_measured_row(p, i, row) for i, row in enumerate(measured))
    updates = data.pop("measured_updates", None)
    if updates is not None:
        if not isinstance(updates, list):
            raise CardError(f"{p}: field 'measured_updates' must be a list of update rows")
        data["measured_updates"] = tuple(_measured_row(p, i, row, "measured_updates", _UPDATE_KEYS)
                                         for i, row in enumerate(updates))
    return _build(HardwareSpec, p, data)


_MEASURED_KEYS = ("model", "batch", "new_tokens", "context", "seconds")
_UPDATE_KEYS = ("model", "num_tokens", "seconds")


_ROW_MINIMUM = {"batch": 1.0, "new_tokens": 1.0, "num_tokens": 1.0, "context": 0.0}


def _measured_row(path: Path, index: int, row: Any, field_name: str = "measured",
                  keys: tuple[str, ...] = _MEASURED_KEYS) -> tuple:
    if not isinstance(row, dict) or set(row) != set(keys):
        raise CardError(f"{path}: {field_name} row {index} must have exactly the keys {', '.join(keys)}")
    values = []
    for k in keys[1:]:
        where = f"{field_name}[{index}].{k}"
        v = _number(path, where, row[k])
        low = _ROW_MINIMUM.get(k)
        ok = math.isfinite(v) and (v > 0 if low is None else v >= low)
        if not ok:
            need = "a finite number > 0" if low is None else f"a finite number >= {low:g}"
            raise CardError(f"{path}: field {where!r} must be {need}, got {short(row[k])}")
        values.append(v)
    return (str(row["model"]), *values)


def load_model(name: str | ModelSpec) -> ModelSpec:
    """The LLM card ``name`` (a stem in ``osdsim/cards/llm``, a YAML path, or a Hugging Face ``config.json`` or model folder)."""
    return name if isinstance(name, ModelSpec) else _load_model_path(str(card_path("llm", name)))


def load_framework(name: str | FrameworkSpec) -> FrameworkSpec:
    """The serving-framework card ``name`` (a stem in ``osdsim/cards/framework`` or a YAML path)."""
    return name if isinstance(name, FrameworkSpec) else _load_card_path("framework", str(card_path("framework", name)))


def load_hardware(name: str | HardwareSpec) -> HardwareSpec:
    """The hardware card ``name`` (a stem in ``osdsim/cards/hardware`` or a YAML path)."""
    return name if isinstance(name, HardwareSpec) else _load_card_path("hardware", str(card_path("hardware", name)))


def card_from_mapping(kind: str, data: dict[str, Any], where: str = "card"):
    """A card of ``kind`` ("llm", "hardware", "framework") from a mapping written like a card file,
    usually ``{"like": NAME, field: value, ...}`` (what ``--set hardware.bandwidth_GBps=1500``
    makes of a scenario's ``hardware``): the named card with those fields overridden, in the
    card's own units. ``where`` names the mapping in errors."""
    if kind not in _KINDS:
        raise CardError(f"unknown card kind {kind!r}; known: {', '.join(_KINDS)}")
    if not isinstance(data, dict):
        raise CardError(f"{where}: a {_KINDS[kind]} card must be a name, a file or a mapping of fields")
    p = Path(where)
    base = data.get("like")
    merged = _inherit(kind, dict(data), p)
    if "name" not in data:
        merged["name"] = f"{base}+overrides" if isinstance(base, str) else "inline"
    if kind == "llm":
        return _build(ModelSpec, p, merged)
    if kind == "hardware":
        return _hardware_from_data(p, merged)
    return _framework_from_data(p, merged)
