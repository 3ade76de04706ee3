"""The trace schema: line types, their required fields, and validation of one parsed line.

A trace is JSON Lines; every line is one object with a ``type``. The full field list with units
is in ``osdsim/trace/SCHEMA.md``; this module holds the contract that readers check.
"""

from __future__ import annotations

import math
from typing import Any

from osdsim.safe.text import short

SCHEMA_VERSION = 1
MAX_LINE_BYTES = 1 << 20  # a longer line is refused: traces are many short lines

# Required fields per line type (the names of osdsim/trace/SCHEMA.md are the contract); extra fields are allowed.
REQUIRED: dict[str, tuple[str, ...]] = {
    "meta": ("schema_version",),
    "step": ("record", "step", "gamma", "drafted", "accepted", "emitted", "draft_s", "verify_s"),
    "record": ("record", "domain", "alpha", "num_tokens", "latency_s", "draft_version"),
    "update": ("update", "after_record", "num_tokens", "loss", "update_s"),
    "aggregate": ("drafted", "accepted", "emitted"),
}

# Fields a run's meta line carries (documented defaults; readers must not require them).
META_FIELDS = (
    "schema_version", "source", "target", "draft", "target_params", "draft_params", "device",
    "dtype", "gamma", "mode", "temperature", "max_new_tokens", "online", "seed",
    "osdsim_version", "created_utc",
)


# The values of required (and common optional) fields, checked on every line read and written:
# counts are non-negative integers, seconds finite and non-negative, α a probability. A NaN,
# a negative latency, α = 7.5 or "fast" where seconds belong would otherwise flow into calibrate and
# validate without a word. (JSON's NaN/Infinity are refused before this, by the reader.)
MAX_COUNT = 2**53  # integers JSON carries exactly
MAX_GAMMA = 4096  # draft tokens per step
COUNTS: dict[str, tuple[str, ...]] = {
    "step": ("record", "step", "drafted", "accepted", "emitted", "position", "batch"),
    "record": ("record", "num_tokens", "prompt_tokens", "steps"),
    "update": ("update", "num_tokens"),
}
SECONDS: dict[str, tuple[str, ...]] = {
    "step": ("draft_s", "verify_s"),
    "record": ("latency_s", "prefill_s"),
    "update": ("update_s",),
}


class TraceError(ValueError):
    """A trace that cannot be read: names the file and the line."""


def _check_values(kind: str, obj: dict[str, Any], where: str) -> None:
    def bad(name: str, need: str) -> TraceError:
        return TraceError(f"{where}: {kind} field {name} must be {need}, got {short(obj[name])}")

    def number(name: str, integer: bool = False) -> bool:
        v = obj[name]
        return (not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) and v >= 0
                and (not integer or (v == int(v) and v <= MAX_COUNT)))

    for name in COUNTS.get(kind, ()):
        if name in obj and not number(name, integer=True):
            raise bad(name, "a non-negative integer")
    for name in SECONDS.get(kind, ()):
        if name in obj and not number(name):
            raise bad(name, "finite non-negative seconds")
    if "gamma" in obj and kind in ("step", "aggregate") and obj["gamma"] is not None and not (
            number("gamma", integer=True) and obj["gamma"] <= MAX_GAMMA):
        raise bad("gamma", f"an integer in 0..{MAX_GAMMA}")
    if kind == "step" and obj["accepted"] > obj["drafted"]:
        raise TraceError(f"{where}: step accepts {obj['accepted']} of {obj['drafted']} drafted tokens")
    if kind == "record":
        if not isinstance(obj["domain"], str):
            raise bad("domain", "a string")
        if obj["alpha"] is not None and not (number("alpha") and obj["alpha"] <= 1):
            raise bad("alpha", "a probability in [0, 1] (or null for a baseline record)")
        if obj["draft_version"] is not None and not number("draft_version", integer=True):
            raise bad("draft_version", "a non-negative integer (or null for a baseline record)")
    elif kind == "update":
        if not (isinstance(obj["after_record"], int) and not isinstance(obj["after_record"], bool)
                and obj["after_record"] >= -1):
            raise bad("after_record", "an integer >= -1")
        v = obj["loss"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise bad("loss", "a finite number")
    elif kind == "aggregate":
        for name in ("drafted", "accepted", "emitted"):
            if not (name == "emitted" and obj[name] is None) and not number(name):
                raise bad(name, "a non-negative number" + (" or null" if name == "emitted" else ""))
        if obj["accepted"] > obj["drafted"]:
            raise TraceError(f"{where}: aggregate accepts {obj['accepted']} of {obj['drafted']} drafted tokens")


def validate_line(obj: Any, where: str) -> dict[str, Any]:
    """Check one parsed line against the schema; ``where`` is ``"file:line"`` for errors."""
    if not isinstance(obj, dict):
        raise TraceError(f"{where}: a trace line must be a JSON object")
    kind = obj.get("type")
    if kind not in REQUIRED:
        raise TraceError(f"{where}: unknown line type {short(kind)} (expected one of {sorted(REQUIRED)})")
    missing = [name for name in REQUIRED[kind] if name not in obj]
    if missing:
        raise TraceError(f"{where}: {kind} line lacks field(s) {', '.join(missing)}")
    if kind == "meta" and obj["schema_version"] != SCHEMA_VERSION:
        raise TraceError(f"{where}: schema_version {short(obj['schema_version'])} is not supported "
                         f"(this osdsim reads version {SCHEMA_VERSION})")
    _check_values(kind, obj, where)
    return obj
