"""``osdsim sweep``: a grid or random sample over scenario fields, local or on Ray, resumable."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from osdsim.cli.cmd_simulate import _framework_set
from osdsim.cli.common import (
    FRAMEWORK_CARD_HELP,
    Result,
    UsageError,
    add_parser,
    add_progress,
    progress_on,
    table,
)
from osdsim.safe.lock import OutputLock
from osdsim.safe.text import short

DEFAULT_OUT = "sweep.csv"


def register(subparsers) -> None:
    p = add_parser(subparsers, "sweep", "run a parameter grid over scenario fields",
                   "Evaluate a base scenario at every point of a grid (or a random sample) of field "
                   "values. Finished points are journalled as they finish; rerunning the same command "
                   "resumes without recomputing them. The table (.csv or .parquet) feeds `osdsim plot "
                   "speedup-rate|latency-rate|tpot-rate|update-interval`.\n\n"
                   "example:\n  osdsim sweep examples/scenarios/vicuna-a100.yaml --axis rate=2,8,16 "
                   "--axis gamma=0,3,goodput --out out/sweep.csv")
    p.add_argument("scenario", nargs="?", help="base scenario file (YAML or TOML); default: built-in defaults")
    p.add_argument("--axis", action="append", default=[], metavar="KEY=VALUES",
                   help="a swept field: key=v1,v2,... or key=lo:hi:n (repeatable); keys are dotted "
                        "scenario paths (workload.rate) or aliases: alpha, rate, update_interval, "
                        "interference, batch")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a base scenario field before sweeping, e.g. --set workload.num_requests=400 "
                        "(repeatable; YAML values, as for simulate and plan)")
    p.add_argument("--framework", help=FRAMEWORK_CARD_HELP + " for every scenario (same as --set framework=NAME)")
    p.add_argument("--random", type=int, metavar="N", help="sample N random points instead of the full grid")
    p.add_argument("--seed", type=int, default=0, help="seed for --random")
    p.add_argument("--evaluator", default="simulate", choices=["simulate", "roofline"],
                   help="simulate (the serving simulator) or roofline (batch-aware closed form, fast)")
    p.add_argument("--backend", default="local", choices=["local", "ray"])
    p.add_argument("--address", help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--workers", type=int, help="parallel workers (default: CPU count)")
    p.add_argument("--out", help="result table, .csv or .parquet (default sweep.csv in this folder, which "
                                 "is never replaced unless named here); its journal is <out>.partial.jsonl")
    add_progress(p)
    p.set_defaults(handler=run, writes=("out",))


def sweep_table(base: dict, points: list[dict], out: Path, **options):
    """Run the sweep, resuming from ``out``'s journal (``<out>.partial.jsonl``, appended as points
    finish); write the table to ``out`` and drop the journal. Returns (table, resumed, computed).

    One writer per table: ``out``'s lock is held throughout, so a second sweep on the same ``out``
    is refused (naming the first one's PID) instead of mixing or losing rows; the table is written
    beside ``out`` and renamed into place (``osdsim.safe``)."""
    with OutputLock(out, "sweep table"):
        return _sweep_table(base, points, Path(out), **options)


def _sweep_table(base: dict, points: list[dict], out: Path, *, evaluator: str = "simulate",
                 backend: str = "local", workers: int | None = None, address: str | None = None,
                 progress: bool | None = None, base_dir: str = "."):
    import pandas as pd

    from osdsim.sweep import point_id, run_sweep
    from osdsim.sweep.files import Journal, journal_path, read_journal, sweep_signature, write_table

    signature = sweep_signature(base, evaluator, points)
    jpath = journal_path(out)
    finished = read_journal(jpath, signature)
    done_ids = {r["point_id"] for r in finished}
    out.parent.mkdir(parents=True, exist_ok=True)
    journal = Journal(jpath, signature)
    try:
        new = run_sweep(base, points, evaluator=evaluator, backend=backend, workers=workers, address=address,
                        skip_ids=done_ids, on_row=journal.append, progress=progress, base_dir=base_dir)
    finally:
        journal.close(drop_if_empty=True)  # a journal of no rows would only block the corrected rerun
    by_id = {r["point_id"]: r for r in finished + new}
    rows = [by_id[point_id(p)] for p in points if point_id(p) in by_id]
    for i, r in enumerate(rows):
        r["index"] = i
    df = pd.DataFrame(rows)
    write_table(df, out)
    jpath.unlink(missing_ok=True)
    return df, len(finished), len(new)


def run(args) -> Result:
    from osdsim.sim.scenario_files import apply_overrides, parse_overrides, read_scenario_file
    from osdsim.sweep import grid_points, parse_axis, random_points

    if not args.axis:
        raise UsageError("give at least one --axis KEY=VALUES")
    if args.workers is not None and not 1 <= args.workers <= 1024:
        raise UsageError(f"--workers must be in 1..1024, got {args.workers}")
    axes = dict(parse_axis(a) for a in args.axis)
    if args.random is not None and not 1 <= args.random <= 1_000_000:
        raise UsageError(f"--random must be in 1..1000000, got {args.random}")
    if args.random is not None:
        points = random_points(axes, args.random, args.seed)
    else:
        points = grid_points(axes)
    base = apply_overrides(read_scenario_file(args.scenario) if args.scenario else {}, parse_overrides(args.set + _framework_set(args)))
    base_dir = str(Path(args.scenario).parent) if args.scenario else "."
    from osdsim.sweep.files import journal_path

    check_axes(base, axes, base_dir)  # every value, before a journal exists: a typo costs nothing
    out = _out_path(args.out)
    if not args.out:  # say where the default puts things
        sys.stderr.write(f"sweep: writing {out} (--out not given; journal {journal_path(out)} until it is "
                         "written: rerun the same command to resume)\n")
    df, resumed, computed = sweep_table(
        base, points, out, evaluator=args.evaluator, backend=args.backend, workers=args.workers,
        address=args.address, progress=progress_on(args),
        base_dir=base_dir)
    # The swept axes, then what a reader compares across them.
    results = ("speedup", "throughput_ratio", "latency_mean_s", "tpot_p99_s", "served_ratio", "tau",
               "optimal_gamma", "optimal_speedup")
    shown = ["index", *[k for k in dict.fromkeys(k for p in points for k in p) if k in df.columns],
             *[c for c in results if c in df.columns]]
    payload = {"points": len(points), "computed": computed, "resumed": resumed, "out": str(out),
               "backend": args.backend, "evaluator": args.evaluator, "columns": list(df.columns)}
    text = table(df[shown].head(20).to_dict("records")) + f"\n\n{len(points)} points ({resumed} resumed) -> {out}"
    return Result(payload, text)


def _out_path(given: str | None) -> Path:
    """``--out``, or ``sweep.csv`` here when not given: that default never replaces a table that is
    already there (unless its journal says this is a resume)."""
    if given:
        return Path(given)
    out = Path(DEFAULT_OUT)
    from osdsim.sweep.files import journal_path

    if out.exists() and not journal_path(out).exists():
        raise UsageError(f"{out} exists here (an earlier sweep's table?); give --out to choose the table's "
                         "path (a table named there is replaced)")
    return out


def check_axes(base: dict, axes: dict, base_dir: str = ".") -> None:
    """Parse the base scenario with each axis value on its own, so a bad value is one sentence
    naming the axis before any point runs."""
    from osdsim.sim.scenario_files import apply_overrides
    from osdsim.sim.scenario_parse import parse_scenario
    from osdsim.sweep.grid import ALIASES

    parse_scenario(base, base_dir)
    for key, values in axes.items():
        for value in {json.dumps(v, sort_keys=True, default=str): v for v in values}.values():
            try:
                parse_scenario(apply_overrides(base, {key: value}, aliases=ALIASES), base_dir)
            except ValueError as exc:
                raise UsageError(f"--axis {key}={short(value)}: {exc}") from None
