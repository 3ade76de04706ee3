"""``osdsim simulate SCENARIO``: run the serving simulator on a scenario file.

Prints the summary (with the plain-decoding baseline and the speedup over it); ``--out DIR``
writes the per-request, per-step and per-update tables as CSV plus the summary and the resolved
scenario as JSON, so every number can be traced to its inputs.
"""

from __future__ import annotations

import json
from pathlib import Path

from osdsim.cli.common import FRAMEWORK_CARD_HELP, Result, UsageError, add_parser, key_values
from osdsim.safe.atomic import atomic_dir, check_out_dir, write_text_atomic

# What --out DIR holds: the folder is replaced whole, and refused if it holds anything else.
OUT_FILES = ("requests.csv", "steps.csv", "updates.csv", "summary.json", "scenario.json")

SHOWN = ("requests", "finished", "unfinished", "throughput_tok_s", "ttft_p50_s", "ttft_p99_s",
         "tpot_p50_s", "tpot_p99_s", "itl_p50_s", "itl_p99_s", "latency_mean_s", "latency_p50_s", "latency_p99_s",
         "mean_tokens_per_step",
         "mean_alpha", "mean_batch", "mean_gamma", "goodput", "utilisation", "updates")


def register(subparsers) -> None:
    p = add_parser(subparsers, "simulate", "simulate a serving scenario (YAML or TOML)",
                   "Discrete-event simulation of speculative decoding (optionally with online "
                   "draft updates) in a serving queue: a summary with percentiles (p50/p90/p95/p99 of TTFT, "
                   "TPOT, ITL and latency), throughput, goodput, whether the service kept up with the offered "
                   "rate, and the speedup over plain decoding of the same requests.\n\n"
                   "example:\n  osdsim simulate examples/scenarios/vicuna-a100.yaml --set workload.rate=16 "
                   "--set hardware.bandwidth_GBps=1500 --chrome-trace out/trace.json")
    p.add_argument("scenario", help="scenario file (.yaml, .yml or .toml); see examples/scenarios/")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a field, e.g. --set workload.rate=5, or a card's field, e.g. "
                        "--set hardware.bandwidth_GBps=1500 (repeatable; YAML values)")
    p.add_argument("--framework", help=FRAMEWORK_CARD_HELP + " for every scenario (same as --set framework=NAME)")
    p.add_argument("--out", metavar="DIR", help="write requests.csv, steps.csv, updates.csv, "
                   "summary.json and scenario.json into DIR")
    p.add_argument("--chrome-trace", metavar="FILE.json",
                   help="write the per-step timeline (iterations and draft updates per replica) in the "
                        "Chrome/Perfetto trace-event format; open it in ui.perfetto.dev")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="processes for round-robin replicas (independent; same results), default 1")
    p.add_argument("--no-baseline", action="store_true",
                   help="skip the plain-decoding baseline run (no speedup in the summary)")
    p.set_defaults(handler=run, writes=("out", "chrome_trace"))


def run(args) -> Result:
    from dataclasses import asdict

    from osdsim.sim import load_scenario, simulate
    from osdsim.sim.scenario_files import parse_overrides

    path = Path(args.scenario)
    if not path.is_file():
        raise UsageError(f"scenario file not found: {path}")
    if path.suffix not in (".yaml", ".yml", ".toml"):
        raise UsageError(f"scenario must be a .yaml, .yml or .toml file, got {path.name}")
    if not 1 <= args.workers <= 1024:
        raise UsageError(f"--workers must be in 1..1024, got {args.workers}")
    # A --chrome-trace inside --out is one of the folder's files (written and swapped in with them).
    inside = bool(args.out and args.chrome_trace and Path(args.chrome_trace).resolve().parent == Path(args.out).resolve())
    owned = OUT_FILES + ((Path(args.chrome_trace).name,) if inside else ())
    if args.out:  # before the simulation: a folder of someone else's files is refused at once
        check_out_dir(args.out, owned, "--out folder")
    scenario = load_scenario(path, parse_overrides(args.overrides + _framework_set(args)))
    _ensure_lengths(scenario.workload)
    result = simulate(scenario, baseline=not args.no_baseline, workers=args.workers)
    from osdsim.sim.metrics import service_metrics

    summary = {**result.summary, **service_metrics(result)}
    if args.chrome_trace:
        from osdsim.sim.chrome_trace import chrome_trace

        timeline = json.dumps(chrome_trace(result)) + "\n"
        if not inside:
            write_text_atomic(args.chrome_trace, timeline, "Chrome trace")
    if args.out:  # written into a temporary folder and swapped in whole: never a partial set
        with atomic_dir(args.out, owned, "--out folder") as out:
            if inside:
                (out / Path(args.chrome_trace).name).write_text(timeline)
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
        text += (f"\n\nspeedup {summary['speedup']:.3f}x = plain decoding's mean latency {base['latency_mean_s']:.4g} s"
                 f" / speculative mean latency {summary['latency_mean_s']:.4g} s"
                 f" (steady window: {summary.get('speedup_steady', float('nan')):.3f}x); throughput ratio "
                 f"{summary.get('throughput_ratio', float('nan')):.3f}")
        if summary["speedup"] < 1:
            text += "\nspeculation is slower than plain decoding here"
    ratio = summary.get("served_ratio")
    if ratio is not None and ratio == ratio:
        text += (f"\nkept up with the load: served {summary['served_req_s']:.3g} of {summary['offered_req_s']:.3g} "
                 f"req/s offered" + ("" if ratio >= 0.95 else " -- the queue grows: percentiles depend on the run's length"))
    assumed = summary.get("assumptions") or {}
    text += "\n\nassumed: " + "; ".join(f"{k} {v}" for k, v in assumed.items() if v is not None)
    return text


def _framework_set(args) -> list[str]:
    return [f"framework={args.framework}"] if args.framework else []


def _ensure_lengths(w) -> None:
    """A named ``workload.dataset`` (not a CSV): its length table, built if it is not cached."""
    from osdsim.trace.lengths import DATASETS

    if w.dataset in DATASETS and w.tokenizer:
        from osdsim.real.lengths import ensure_table

        ensure_table(w.dataset, w.tokenizer)
