"""Shared CLI plumbing: the --json flag, one-sentence errors, output.

Every subcommand module ``osdsim/cli/cmd_<name>.py`` has ``register(subparsers)``, which adds
its parser and sets ``handler``; a handler takes the parsed args and returns a
:class:`Result`. Handlers import heavy modules (pandas, torch, matplotlib) inside the function,
never at module level, so ``osdsim speedup`` starts fast.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, field
from typing import Any


class UsageError(ValueError):
    """Bad input from the command line: printed as one sentence, exit code 2."""


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line and exits with 2."""

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message}\n")


@dataclass
class Result:
    """What a handler returns: a JSON-able payload, and text for people."""

    payload: dict[str, Any]
    text: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def add_parser(subparsers, name: str, help_text: str, description: str | None = None) -> Parser:
    parser = subparsers.add_parser(name, help=help_text, description=description or help_text)
    parser.add_argument("--json", action="store_true",
                        help="print exactly one JSON object on stdout instead of a table")
    return parser


def _clean(value: Any) -> Any:
    # JSON has no NaN/inf; numpy scalars and arrays become plain Python.
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "tolist"):
        return _clean(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def emit(result: Result, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(_clean(result.payload), sort_keys=False) + "\n")
    elif result.text:
        sys.stdout.write(result.text.rstrip("\n") + "\n")
    sys.stdout.flush()


def table(rows: list[dict[str, Any]], columns: list[str] | None = None, floatfmt: str = ".4g") -> str:
    """A plain aligned text table of ``rows`` (no dependencies)."""
    if not rows:
        return "(no rows)"
    columns = columns or list(rows[0])

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return format(v, floatfmt)
        return str(v)

    cells = [[fmt(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def key_values(pairs: dict[str, Any], floatfmt: str = ".4g") -> str:
    width = max(len(k) for k in pairs)
    out = []
    for k, v in pairs.items():
        if isinstance(v, float):
            v = format(v, floatfmt)
        out.append(f"{k.ljust(width)}  {v}")
    return "\n".join(out)
