"""Scenario files (YAML or TOML), ``key.path=value`` overrides, and :func:`load_scenario`.

Relative file paths inside a scenario resolve against the scenario file's folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from osdsim.safe.loaders import load_toml, load_yaml
from osdsim.safe.text import short
from osdsim.sim.scenario_fields import Scenario
from osdsim.sim.scenario_parse import parse_scenario

MAX_SCENARIO_BYTES = 1_000_000  # scenario files are small; refuse anything larger
# Scenario fields that name a card, with their defaults: ``--set hardware.bandwidth_GBps=1500``
# overrides one field of the card named there (``hardware: {like: a100-80g, bandwidth_GBps: 1500}``).
CARD_FIELDS = {"hardware": Scenario.hardware, "target": Scenario.target, "draft": Scenario.draft}


def read_scenario_file(path: str | os.PathLike) -> dict:
    """The raw mapping of a YAML (``.yaml``/``.yml``) or TOML (``.toml``) scenario file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"scenario file {path} does not exist")
    if path.stat().st_size > MAX_SCENARIO_BYTES:
        raise ValueError(f"{path}: scenario file is larger than {MAX_SCENARIO_BYTES} bytes")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text") from None
    # Bounded loaders: nesting depth and alias expansion are capped (a 300-byte alias bomb).
    raw = load_toml(text, str(path)) if path.suffix.lower() == ".toml" else load_yaml(text, str(path))
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: a scenario must be a mapping of fields")
    return raw


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """``key.path=value`` strings (``--set``) → {dotted key: typed value}, each value read as a YAML
    scalar (``5`` → 5, ``null`` → None, ``[a, b]`` → a list; an empty value stays "").

    The one place command-line overrides are parsed; :func:`apply_overrides` takes the result.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects key=value, got {short(item)}")
        out[key.strip()] = load_yaml(value, f"--set {key.strip()[:40]}") if value.strip() else value
    return out


def apply_overrides(raw: Mapping, overrides: Mapping[str, Any], aliases: Mapping[str, str] | None = None) -> dict:
    """A deep copy of ``raw`` with each dotted key of ``overrides`` set to its value, as given.

    Values are typed already (from :func:`parse_overrides`, a sweep axis, or code): nothing here
    re-reads them, so a string stays a string (YAML 1.1 would read "1:30" as 90). Missing or null
    intermediate mappings are created; a key through a field that holds something else (``gamma.x``
    when ``gamma`` is 5) is an error. ``aliases`` maps short keys to dotted paths (the sweep's).
    """
    import copy

    out = copy.deepcopy(dict(raw))
    for key, value in overrides.items():
        path = (aliases or {}).get(key, key)
        parts = path.split(".")
        node = out
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if depth == 0 and part in CARD_FIELDS and (child is None or isinstance(child, str)):
                # A card field overridden field by field: the card named there (or the default)
                # with this field changed, ``{like: NAME, field: value}``.
                child = node[part] = {"like": child or CARD_FIELDS[part]}
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                raise ValueError(f"override {key!r}: {part!r} is not a mapping in the scenario")
            node = child
        node[parts[-1]] = value
    return out


def load_scenario(source: str | os.PathLike | Mapping | Scenario, overrides=(), base_dir: str = ".") -> Scenario:
    """A :class:`Scenario` from a file path, a raw mapping, or a Scenario (returned as is).

    ``overrides``: {dotted key: typed value}, or ``key=value`` strings (parsed by
    :func:`parse_overrides`). Relative paths inside a mapping resolve against ``base_dir`` (a
    file's own folder otherwise).
    """
    if not isinstance(overrides, Mapping):
        overrides = parse_overrides(overrides)
    if isinstance(source, Scenario):
        if overrides:
            raise ValueError("overrides apply to a file or mapping, not to a Scenario object")
        return source
    if isinstance(source, Mapping):
        return parse_scenario(apply_overrides(source, overrides), str(base_dir))
    path = Path(source)
    return parse_scenario(apply_overrides(read_scenario_file(path), overrides), str(path.parent))
