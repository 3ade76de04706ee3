"""Write, read and resume traces.

Writing is append-only and flushed per line, so a run killed at any moment leaves a readable
prefix. Reading tolerates a cut final line (no newline at the end and not a whole JSON object; a
whole one is kept) but refuses a malformed line anywhere else, naming the file and line. Resuming truncates the file after the last whole
``record`` (or ``update``) line, so a continued run never duplicates steps of an unfinished record.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from osdsim.safe.loaders import load_json
from osdsim.safe.numbers import InputError
from osdsim.trace.schema import MAX_LINE_BYTES, SCHEMA_VERSION, TraceError, validate_line

_TABLES = {"step": "steps", "record": "records", "update": "updates", "aggregate": "aggregates"}


@dataclass
class Trace:
    """A parsed trace: the meta line and one DataFrame per line type (empty if none)."""

    path: str
    meta: dict[str, Any]
    steps: pd.DataFrame
    records: pd.DataFrame
    updates: pd.DataFrame
    aggregates: pd.DataFrame
    cut: bool = False  # True when a partial last line was skipped
    lines: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class TraceWriter:
    """Append lines to a trace file, flushing each one (``fsync=True`` also syncs to disk)."""

    def __init__(self, path: str | os.PathLike, fsync: bool = False, mode: str = "a"):
        self.path = Path(path)
        self.fsync = fsync
        self._file = open(self.path, mode, encoding="utf-8")  # noqa: SIM115 - closed in close()

    def write(self, kind: str, **fields: Any) -> None:
        obj = {"type": kind, **fields}
        validate_line(obj, f"{self.path}:<write>")
        line = json.dumps(obj, separators=(",", ":"), allow_nan=False) + "\n"
        if len(line.encode()) > MAX_LINE_BYTES:
            raise TraceError(f"{self.path}: a {kind} line would exceed {MAX_LINE_BYTES} bytes")
        self._file.write(line)
        self._file.flush()
        if self.fsync:
            os.fsync(self._file.fileno())

    def __call__(self, kind: str, **fields: Any) -> None:
        self.write(kind, **fields)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _parse(path: Path) -> tuple[list[dict[str, Any]], list[int], bool]:
    """Parsed whole lines, the byte offset where each ends, and whether a cut tail was skipped."""
    data = path.read_bytes()
    objs, ends, cut = [], [], False
    pos, lineno = 0, 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        lineno += 1
        raw = data[pos:] if nl < 0 else data[pos:nl]
        where = f"{path}:{lineno}"
        if len(raw) > MAX_LINE_BYTES:
            raise TraceError(f"{where}: line is longer than {MAX_LINE_BYTES} bytes")
        if nl < 0:  # no newline: a whole JSON object is a complete last line; anything else was cut
            try:  # by a killed writer and is skipped
                load_json(raw, where)
            except InputError:
                cut = True
                break
            nl = len(data) - 1  # the line ends with the file
        if raw.strip():
            try:  # NaN/Infinity (not JSON) and deep nesting are refused here
                obj = load_json(raw, where)
            except InputError as exc:
                raise TraceError(str(exc)) from None
            validate_line(obj, where)
            if not objs and obj["type"] != "meta":
                raise TraceError(f"{where}: the first line must be the meta line")
            if objs and obj["type"] == "meta":
                raise TraceError(f"{where}: a second meta line")
            objs.append(obj)
            ends.append(nl + 1)
        pos = nl + 1
    return objs, ends, cut


def read_trace(path: str | os.PathLike) -> Trace:
    """Read a trace file into a :class:`Trace`; a cut final line is skipped."""
    path = Path(path)
    objs, _, cut = _parse(path)
    if not objs:
        raise TraceError(f"{path}:1: empty trace (no meta line)")
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in _TABLES.values()}
    for obj in objs[1:]:
        rows[_TABLES[obj["type"]]].append({k: v for k, v in obj.items() if k != "type"})
    frames = {name: pd.DataFrame(r) for name, r in rows.items()}
    meta = {k: v for k, v in objs[0].items() if k != "type"}
    return Trace(path=str(path), meta=meta, cut=cut, lines=len(objs), **frames)


def prepare_resume(path: str | os.PathLike, last_update: int | None = None) -> Trace:
    """Truncate ``path`` after its last whole record and return what remains.

    Step lines of an unfinished record and a cut last line are dropped, so the caller continues
    with record ``len(trace.records)`` and appends without duplicates. An online run passes
    ``last_update``, the update its saved draft checkpoint holds (-1: none); the trace is then cut
    right after that update line, because records served after it cannot be replayed without the
    buffer they filled.
    """
    path = Path(path)
    objs, ends, _ = _parse(path)
    if not objs:
        raise TraceError(f"{path}:1: cannot resume an empty trace (no meta line)")
    keep = 1
    for i, obj in enumerate(objs):
        finished = obj["type"] in ("update", "aggregate") or (
            obj["type"] == "record" and obj.get("mode") != "baseline")
        if last_update is None and finished or last_update is not None and obj["type"] == "update" and obj["update"] <= last_update:
            keep = i + 1
    with open(path, "r+b") as f:
        f.truncate(ends[keep - 1])
        f.seek(-1, os.SEEK_END)
        if f.read(1) != b"\n":  # a complete last line without its newline: end it before appending
            f.write(b"\n")
    return read_trace(path)


def new_meta(**fields: Any) -> dict[str, Any]:
    """A meta line's fields with the schema version, osdsim version and creation time filled in."""
    from datetime import datetime, timezone

    from osdsim import __version__

    return {"schema_version": SCHEMA_VERSION, "osdsim_version": __version__,
            "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), **fields}
