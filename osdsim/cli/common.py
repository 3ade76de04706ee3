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

from osdsim.safe.numbers import finite_float
from osdsim.safe.text import one_line

# Help text for every option that takes a card: names, card files and (LLMs) HF configs all work.
LLM_CARD_HELP = ("LLM card: a name from `osdsim cards list llm`, a card YAML file, or a Hugging Face "
                 "config.json (or its model folder)")
HARDWARE_CARD_HELP = ("hardware card: a name from `osdsim cards list hardware` or a card YAML file "
                      "(make one with `osdsim cards new --like l4`)")
FRAMEWORK_CARD_HELP = ("serving-framework card: a name from `osdsim cards list framework` or a card YAML "
                       "file (default vllm-v1)")


class UsageError(ValueError):
    """Bad input from the command line: printed as one sentence, exit code 2."""


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line and exits with 2; every ``type=float``
    option refuses NaN and infinity (``osdsim.safe.numbers.finite_float``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.register("type", float, finite_float)  # groups share the parser's registry

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {one_line(message)}\n")


@dataclass
class Result:
    """What a handler returns: a JSON-able payload, and text for people."""

    payload: dict[str, Any]
    text: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


# One example per subcommand, shown at the end of its --help.
EXAMPLES = {
    "demo": "osdsim demo --skip-real",
    "speedup": "osdsim speedup --alpha 0.7 --target llama-3.1-8b --draft llama-3.2-1b --hardware l4",
    "cost": "osdsim cost --model llama-3.1-70b --hardware h100-sxm --tp 4 --batch 8 --context 1000",
    "simulate": "osdsim simulate examples/scenarios/vicuna-a100.yaml --set workload.rate=16",
    "run": "osdsim run --schedule code:20,sql:20 --online --update-interval 8 --out traces/osd.jsonl",
    "distill": "osdsim distill --epochs 1 --out drafts/offline",
    "train": "osdsim train",
    "profile": "osdsim profile --model t=/models/target --model d=/models/draft --out out/timings.csv",
    "calibrate": "osdsim calibrate --trace traces/osd-small-cpu-baseline.jsonl --records even --out out/cpu.yaml",
    "validate": "osdsim validate traces/osd-small-cpu-baseline.jsonl --card out/cpu.yaml --records odd",
    "import": "osdsim import vllm server.log --target llama-3.1-8b --draft llama-3.2-1b --hardware h100-sxm",
    "sweep": "osdsim sweep examples/scenarios/vicuna-a100.yaml --axis rate=4,16 --axis gamma=0,3 --out out/s.csv",
    "plan": "osdsim plan examples/scenarios/vicuna-a100.yaml --slo tpot_p99_s=0.025 --rate 10",
    "plot": "osdsim plot speedup-rate out/s.csv --out out/speedup.png",
    "cards": "osdsim cards new --like l4 --name my-gpu --set bandwidth_GBps=450 --out my-gpu.yaml",
}


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions as written, and every option's default appended to its help (where it has one
    and the help does not state it already)."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if (action.option_strings and default not in (None, False, [], argparse.SUPPRESS)
                and "default" not in text and "%(default)" not in text):
            text += " (default: %(default)s)"
        return text


def add_parser(subparsers, name: str, help_text: str, description: str | None = None) -> Parser:
    example = EXAMPLES.get(name)
    description = description or help_text
    epilog = f"example:\n  {example}" if example and "example:" not in description else None
    parser = subparsers.add_parser(name, help=help_text, description=description, epilog=epilog,
                                   formatter_class=HelpFormatter)
    parser.add_argument("--json", action="store_true",
                        help="print exactly one JSON object on stdout instead of a table")
    return parser


def add_progress(parser) -> None:
    """The one progress flag of every command with a long loop: ``--progress`` / ``--no-progress``."""
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress on stderr, with an ETA where the total is known (default: on when stderr "
                             "is a terminal and --json is not given)")


def progress_on(args) -> bool:
    """Whether to show progress: as asked, else only on a terminal and never with --json."""
    asked = getattr(args, "progress", None)
    if asked is not None:
        return bool(asked)
    return sys.stderr.isatty() and not getattr(args, "json", False)


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
