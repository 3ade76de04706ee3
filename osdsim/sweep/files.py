"""Sweep outputs: the resumable journal and the final table.

The journal (``<out>.partial.jsonl``) gets one JSON line per finished point, flushed as it
finishes; its first line names the sweep (a hash of base scenario, evaluator and points), so a
resume never mixes two different sweeps. Only the CLI calls the writing functions.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from osdsim.safe.atomic import atomic_file
from osdsim.safe.loaders import load_json
from osdsim.safe.numbers import InputError


def sweep_signature(base: dict, evaluator: str, points: list[dict]) -> str:
    blob = json.dumps({"base": base, "evaluator": evaluator, "points": points}, sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()


def journal_path(out: Path) -> Path:
    return out.with_name(out.name + ".partial.jsonl")


def read_journal(path: Path, signature: str) -> list[dict]:
    """Rows finished by an earlier run of the same sweep; a cut last line is ignored."""
    if not path.exists():
        return []
    rows = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if not lines or not lines[0]:
        return []
    try:
        header = load_json(lines[0], f"{path} line 1")
    except InputError:
        raise ValueError(f"{path} line 1: not a sweep journal header") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path} line 1: not a sweep journal header")
    if header.get("signature") != signature:
        if not any(line.strip() for line in lines[1:]):
            return []  # no finished point: nothing to keep (Journal starts it afresh)
        raise ValueError(f"{path} belongs to a different sweep; delete it or choose another --out")
    for number, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        try:
            rows.append(load_json(line, f"{path} line {number}", allow_nan=True))  # json.dumps wrote it
        except InputError:
            if number == len(lines) or (number == len(lines) - 1 and not lines[-1]):
                break  # the line in flight when the run was killed
            raise ValueError(f"{path} line {number}: malformed journal line") from None
    return rows


class Journal:
    """Appends finished rows, one flushed JSON line each."""

    def __init__(self, path: Path, signature: str):
        self.path = path
        self.appended = 0
        # A journal without a finished point (a sweep that failed at once) holds nothing: restart it.
        fresh = not path.exists() or not any(line.strip() for line in path.read_bytes().split(b"\n")[1:])
        if fresh:
            path.unlink(missing_ok=True)
        else:
            # Drop a cut last line so the next append starts on a line of its own.
            data = path.read_bytes()
            if not data.endswith(b"\n"):
                path.write_bytes(data[: data.rfind(b"\n") + 1])
        self.file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - held open across appends, closed by close()
        if fresh:
            self._write({"signature": signature})

    def _write(self, obj: dict) -> None:
        self.file.write(json.dumps(obj, default=str) + "\n")
        self.file.flush()

    def append(self, row: dict) -> None:
        self._write(row)
        self.appended += 1

    def close(self, drop_if_empty: bool = False) -> None:
        """Close; with ``drop_if_empty``, remove a journal that holds no finished point."""
        self.file.close()
        if drop_if_empty and self.path.exists() and not any(
                line.strip() for line in self.path.read_bytes().split(b"\n")[1:]):
            self.path.unlink(missing_ok=True)


def write_table(df, out: Path) -> None:
    """Parquet for .parquet (needs pyarrow), CSV otherwise."""
    with atomic_file(out, "table") as tmp:  # renamed into place when whole: never a partial table
        if out.suffix.lower() == ".parquet":
            df = parquet_ready(df)
            try:
                df.to_parquet(tmp, index=False)
            except ImportError:
                raise ValueError("writing .parquet needs pyarrow: pip install 'osdsim[parquet]', or use .csv") from None
        else:
            df.to_csv(tmp, index=False)


def parquet_ready(df):
    """``df`` with every column of mixed scalar types (a γ axis of 0, 3 and "goodput") as strings:
    Parquet columns have one type. Numbers stay numbers where a column holds only numbers; a CSV
    of the same table reads back the same way (``osdsim plot`` reads both)."""
    df = df.copy()
    for col in df.columns:
        if df[col].dtype != object:
            continue
        values = [v for v in df[col] if v is not None and not (isinstance(v, float) and v != v)]
        kinds = {("number" if isinstance(v, (int, float)) and not isinstance(v, bool) else type(v).__name__)
                 for v in values}
        if len(kinds) > 1 and not kinds & {"list", "dict", "tuple"}:
            df[col] = [None if v is None or (isinstance(v, float) and v != v) else str(v) for v in df[col]]
    return df
