"""``osdsim simulate SCENARIO``: run the serving simulator on a scenario file.

Prints the summary (with the plain-decoding baseline and the speedup over it); ``--out DIR``
writes the per-request, per-step and per-update tables as CSV plus the summary and the resolved
scenario as JSON, so every number can be traced to its inputs.
"""

from __future__ import annotations

import json
from pathlib import Path

from osdsim.cli.common import Result, UsageError, add_parser, key_values

SHOWN = ("requests", "finished", "unfinished", "throughput_tok_s", "ttft_p50_s", "ttft_p99_s",
         "tpot_p50_s", "tpot_p99_s", "latency_p50_s", "latency_p99_s", "mean_tokens_per_step",
         "mean_alpha", "mean_batch", "mean_gamma", "goodput", "utilisation", "updates")


def register(subparsers) -> None:
    p = add_parser(subparsers, "simulate", "simulate a serving scenario (YAML or TOML)",
                   "Discrete-event simulation of speculative decoding (optionally with online "
                   "draft updates) in a serving queue: a summary with percentiles, throughput, "
                   "goodput and the speedup over plain decoding of the same requests.")
    p.add_argument("scenario", help="scenario file (.yaml, .yml or .toml); see examples/scenarios/")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a field, e.g. --set workload.rate=5 (repeatable; YAML values)")
    p.add_argument("--framework", help="serving-framework card for every scenario (models/framework; "
                                        "same as --set framework=NAME; default vllm-v1)")
    p.add_argument("--out", metavar="DIR", help="write requests.csv, steps.csv, updates.csv, "
                   "summary.json and scenario.json into DIR")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="processes for round-robin replicas (independent; same results), default 1")
    p.add_argument("--no-baseline", action="store_true",
                   help="skip the plain-decoding baseline run (no speedup in the summary)")
    p.set_defaults(handler=run)


def run(args) -> Result:
    from dataclasses import asdict

    from osdsim.sim import load_scenario, simulate
    from osdsim.sim.scenario_files import parse_overrides

    path = Path(args.scenario)
    if not path.is_file():
        raise UsageError(f"scenario file not found: {path}")
    if path.suffix not in (".yaml", ".yml", ".toml"):
        raise UsageError(f"scenario must be a .yaml, .yml or .toml file, got {path.name}")
    if args.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {args.workers}")
    scenario = load_scenario(path, parse_overrides(args.overrides + _framework_set(args)))
    result = simulate(scenario, baseline=not args.no_baseline, workers=args.workers)
    summary = result.summary
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        result.requests.to_csv(out / "requests.csv", index=False)
        result.steps.to_csv(out / "steps.csv", index=False)
        result.updates.to_csv(out / "updates.csv", index=False)
        (out / "summary.json").write_text(json.dumps(_jsonable(summary), indent=1) + "\n")
        (out / "scenario.json").write_text(json.dumps(_jsonable(asdict(scenario)), indent=1) + "\n")
    return Result(summary, _text(summary))


def _jsonable(value):
    import math

    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _text(summary: dict) -> str:
    base = summary.get("baseline")
    rows = {k: summary[k] for k in SHOWN if k in summary}
    text = key_values(rows)
    if base is not None:
        text += "\n\nplain decoding (same requests):\n" + key_values({k: base[k] for k in SHOWN if k in base})
        text += f"\n\nspeedup (baseline mean latency / mean latency): {summary['speedup']:.3f}"
    assumed = summary.get("assumptions") or {}
    text += "\n\nassumed: " + "; ".join(f"{k} {v}" for k, v in assumed.items() if v is not None)
    return text


def _framework_set(args) -> list[str]:
    return [f"framework={args.framework}"] if args.framework else []
