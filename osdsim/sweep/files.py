"""Sweep outputs: the resumable journal and the final table.

The journal (``<out>.partial.jsonl``) gets one JSON line per finished point, flushed as it
finishes; its first line names the sweep (a hash of base scenario, evaluator and points), so a
resume never mixes two different sweeps. Only the CLI calls the writing functions.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


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
        header = json.loads(lines[0])
    except json.JSONDecodeError:
        raise ValueError(f"{path} line 1: not a sweep journal header") from None
    if header.get("signature") != signature:
        raise ValueError(f"{path} belongs to a different sweep; delete it or choose another --out")
    for number, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines) or (number == len(lines) - 1 and not lines[-1]):
                break  # the line in flight when the run was killed
            raise ValueError(f"{path} line {number}: malformed journal line") from None
    return rows


class Journal:
    """Appends finished rows, one flushed JSON line each."""

    def __init__(self, path: Path, signature: str):
        self.path = path
        fresh = not path.exists() or path.stat().st_size == 0
        if not fresh:
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

    def close(self) -> None:
        self.file.close()


def write_table(df, out: Path) -> None:
    """Parquet for .parquet (needs pyarrow), CSV otherwise."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".parquet":
        try:
            df.to_parquet(out, index=False)
        except ImportError:
            raise ValueError("writing .parquet needs pyarrow: pip install 'osdsim[parquet]', or use .csv") from None
    else:
        df.to_csv(out, index=False)
