"""The trace schema: line types, their required fields, and validation of one parsed line.

A trace is JSON Lines; every line is one object with a ``type``. The full field list with units
is in ``osdsim/trace/SCHEMA.md``; this module holds the contract that readers check.
"""

from __future__ import annotations

from typing import Any

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


class TraceError(ValueError):
    """A trace that cannot be read: names the file and the line."""


def validate_line(obj: Any, where: str) -> dict[str, Any]:
    """Check one parsed line against the schema; ``where`` is ``"file:line"`` for errors."""
    if not isinstance(obj, dict):
        raise TraceError(f"{where}: a trace line must be a JSON object")
    kind = obj.get("type")
    if kind not in REQUIRED:
        raise TraceError(f"{where}: unknown line type {kind!r} (expected one of {sorted(REQUIRED)})")
    missing = [name for name in REQUIRED[kind] if name not in obj]
    if missing:
        raise TraceError(f"{where}: {kind} line lacks field(s) {', '.join(missing)}")
    if kind == "meta" and obj["schema_version"] != SCHEMA_VERSION:
        raise TraceError(f"{where}: schema_version {obj['schema_version']!r} is not supported "
                         f"(this osdsim reads version {SCHEMA_VERSION})")
    return obj
