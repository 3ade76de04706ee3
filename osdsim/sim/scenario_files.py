"""Scenario files (YAML or TOML), ``key.path=value`` overrides, and :func:`load_scenario`.

Relative file paths inside a scenario resolve against the scenario file's folder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from osdsim.sim.scenario_fields import Scenario
from osdsim.sim.scenario_parse import parse_scenario

MAX_SCENARIO_BYTES = 1_000_000  # scenario files are small; refuse anything larger


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
    if path.suffix.lower() == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            import tomli as tomllib
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not valid TOML ({exc})") from None
    else:
        import yaml

        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: a scenario must be a mapping of fields")
    return raw


def apply_overrides(raw: Mapping, overrides: list[str] | tuple[str, ...] | Mapping[str, Any]) -> dict:
    """Apply ``key.path=value`` overrides (values parsed as YAML scalars) to a raw mapping."""
    import copy

    import yaml

    out = copy.deepcopy(dict(raw))
    items = overrides.items() if isinstance(overrides, Mapping) else [_split(o) for o in overrides]
    for key, value in items:
        if isinstance(value, str):
            value = yaml.safe_load(value) if value.strip() else value
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = value
    return out


def _split(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"--set expects key=value, got {item!r}")
    return key.strip(), value


def load_scenario(source: str | os.PathLike | Mapping | Scenario, overrides=(), base_dir: str = ".") -> Scenario:
    """A :class:`Scenario` from a file path, a raw mapping, or a Scenario (returned as is).

    Relative paths inside a mapping resolve against ``base_dir`` (a file's own folder otherwise).
    """
    if isinstance(source, Scenario):
        if overrides:
            raise ValueError("overrides apply to a file or mapping, not to a Scenario object")
        return source
    if isinstance(source, Mapping):
        return parse_scenario(apply_overrides(source, overrides), str(base_dir))
    path = Path(source)
    return parse_scenario(apply_overrides(read_scenario_file(path), overrides), str(path.parent))
