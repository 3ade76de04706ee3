"""Shared plumbing of the log importers: bounded reading, the result type, number parsing.

An importer reads a text log line by line and keeps three counts: lines it turned into data
(``parsed``), lines that looked like speculative-decoding metrics but could not be read
(``unreadable``, with line numbers and reasons), and lines that are something else entirely
(``other``: an ordinary log line). Nothing is dropped silently: all three are reported.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_FILE_BYTES = 1 << 30  # refuse logs over 1 GiB: import a slice instead
MAX_LINE_BYTES = 1 << 20  # a longer line is unreadable (counted), never parsed
MAX_EXAMPLES = 10  # unreadable lines quoted in the report

# A non-negative decimal number as logs print it (no sign, no nan/inf).
NUM = r"(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)"
INT = r"(\d+)(?!\d|\.\d|[eE][+-]?\d)"  # a whole integer: "1e400" or "3.5" is not read as 1 or 3


class LogImportError(ValueError):
    """A log that cannot be imported (missing, too large, or without one readable line)."""


@dataclass
class ImportResult:
    """What an importer read from one log: aggregate rows plus the bookkeeping of every line.

    ``aggregates`` are dicts ready to become trace ``aggregate`` lines (``drafted``, ``accepted``,
    ``emitted`` and what else the source gives); ``formats`` counts rows per source format.
    """

    path: str
    kind: str  # "vllm" | "llamacpp"
    aggregates: list[dict[str, Any]] = field(default_factory=list)
    total_lines: int = 0
    parsed: int = 0
    other: int = 0
    unreadable: int = 0
    unreadable_examples: list[dict[str, Any]] = field(default_factory=list)
    formats: dict[str, int] = field(default_factory=dict)

    def bad(self, lineno: int, reason: str, text: str = "") -> None:
        self.unreadable += 1
        if len(self.unreadable_examples) < MAX_EXAMPLES:
            self.unreadable_examples.append({"line": lineno, "reason": reason, "text": text[:160]})

    def add(self, row: dict[str, Any]) -> None:
        self.aggregates.append(row)
        fmt = row.get("format", "?")
        self.formats[fmt] = self.formats.get(fmt, 0) + 1

    def report(self) -> dict[str, Any]:
        """Counts for people and --json: nothing read is left unaccounted for."""
        return {"path": self.path, "kind": self.kind, "lines": self.total_lines,
                "parsed_lines": self.parsed, "aggregates": len(self.aggregates),
                "unreadable_lines": self.unreadable, "other_lines": self.other,
                "formats": dict(self.formats), "unreadable_examples": list(self.unreadable_examples)}


class Unreadable(Exception):
    """Raised inside a line parser: the line is counted as unreadable with this reason."""


def read_log_lines(path: str | os.PathLike) -> list[str | None]:
    """The lines of ``path`` decoded as UTF-8 (bad bytes replaced); ``None`` for an over-long line."""
    p = Path(path)
    if not p.is_file():
        raise LogImportError(f"log file {p} does not exist or is not a file")
    size = p.stat().st_size
    if size > MAX_FILE_BYTES:
        raise LogImportError(f"log file {p} is {size} bytes, over the {MAX_FILE_BYTES}-byte limit")
    return split_lines(p.read_bytes())


def split_lines(data: bytes) -> list[str | None]:
    out: list[str | None] = []
    for raw in data.split(b"\n"):
        out.append(None if len(raw) > MAX_LINE_BYTES else raw.decode("utf-8", "replace").rstrip("\r"))
    if out and out[-1] == "":
        out.pop()
    return out


def grab(pattern: str, text: str, cast=float, required: bool = False, name: str = ""):
    """The first group of ``pattern`` in ``text`` cast to a number, or None (Unreadable if required)."""
    m = re.search(pattern, text)
    if m is None:
        if required:
            raise Unreadable(f"no {name or pattern!r} field")
        return None
    try:
        value = cast(m.group(1))
    except (ValueError, OverflowError):
        raise Unreadable(f"{name or pattern!r} is not a number") from None
    if isinstance(value, float) and not value < 1e300:
        raise Unreadable(f"{name or pattern!r} is out of range")
    return value


def number_list(text: str) -> list[float]:
    """Comma-separated non-negative numbers ("0.800, 0.450, 0.250")."""
    values = [float(x) for x in re.findall(NUM, text)]
    if any(not v < 1e300 for v in values):
        raise Unreadable("per-position rate out of range")
    return values


def check_counts(drafted: float, accepted: float, what: str = "") -> None:
    if accepted > drafted:
        raise Unreadable(f"{what}accepted ({accepted:g}) exceeds drafted ({drafted:g})")


def finish(result: ImportResult) -> ImportResult:
    if not result.aggregates:
        raise LogImportError(
            f"{result.path}: no readable {result.kind} speculative-decoding line "
            f"({result.total_lines} lines: {result.unreadable} unreadable, {result.other} other)")
    return result


def counter_delta(cur: dict[str, Any], prev: dict[str, Any] | None, keys: tuple[str, ...]) -> dict[str, Any]:
    """``cur`` minus ``prev`` for cumulative counters ``keys`` (all of ``cur`` when ``prev`` is None
    or a counter went down: the source restarted), with ``restart`` saying which."""
    restart = prev is None or any(cur[key] < prev[key] for key in keys)
    return {key: cur[key] - (0 if restart else prev[key]) for key in keys} | {"restart": restart}
