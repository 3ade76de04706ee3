"""``osdsim sweep``: a grid or random sample over scenario fields, local or on Ray, resumable."""

from __future__ import annotations

from pathlib import Path

from osdsim.cli.cmd_simulate import _framework_set
from osdsim.cli.common import Result, UsageError, add_parser, table


def register(subparsers) -> None:
    p = add_parser(subparsers, "sweep", "run a parameter grid over scenario fields",
                   "Evaluate a base scenario at every point of a grid (or a random sample) of field "
                   "values. Finished points are journalled as they finish; rerunning the same command "
                   "resumes without recomputing them.")
    p.add_argument("scenario", nargs="?", help="base scenario file (YAML or TOML); default: built-in defaults")
    p.add_argument("--axis", action="append", default=[], metavar="KEY=VALUES",
                   help="a swept field: key=v1,v2,... or key=lo:hi:n (repeatable); keys are dotted "
                        "scenario paths (workload.rate) or aliases: alpha, rate, update_interval, "
                        "interference, batch")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a base scenario field before sweeping, e.g. --set workload.num_requests=400 "
                        "(repeatable; YAML values, as for simulate and plan)")
    p.add_argument("--framework", help="serving-framework card for every scenario (models/framework; "
                                        "same as --set framework=NAME; default vllm-v1)")
    p.add_argument("--random", type=int, metavar="N", help="sample N random points instead of the full grid")
    p.add_argument("--seed", type=int, default=0, help="seed for --random")
    p.add_argument("--evaluator", default="simulate", choices=["simulate", "roofline"],
                   help="simulate (the serving simulator) or roofline (batch-aware closed form, fast)")
    p.add_argument("--backend", default="local", choices=["local", "ray"])
    p.add_argument("--address", help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--workers", type=int, help="parallel workers (default: CPU count)")
    p.add_argument("--out", default="sweep.csv", help="result table, .csv or .parquet (default sweep.csv)")
    p.add_argument("--progress", action="store_true", help="show a progress bar even when not on a terminal")
    p.set_defaults(handler=run)


def sweep_table(base: dict, points: list[dict], out: Path, *, evaluator: str = "simulate",
                backend: str = "local", workers: int | None = None, address: str | None = None,
                progress: bool | None = None, base_dir: str = "."):
    """Run the sweep, resuming from ``out``'s journal (``<out>.partial.jsonl``, appended as points
    finish); write the table to ``out`` and drop the journal. Returns (table, resumed, computed)."""
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
        journal.close()
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
    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be >= 1")
    axes = dict(parse_axis(a) for a in args.axis)
    if args.random is not None:
        points = random_points(axes, args.random, args.seed)
    else:
        points = grid_points(axes)
    base = apply_overrides(read_scenario_file(args.scenario) if args.scenario else {}, parse_overrides(args.set + _framework_set(args)))
    out = Path(args.out)
    df, resumed, computed = sweep_table(
        base, points, out, evaluator=args.evaluator, backend=args.backend, workers=args.workers,
        address=args.address, progress=True if args.progress else None,
        base_dir=str(Path(args.scenario).parent) if args.scenario else ".")
    shown = [c for c in df.columns if c not in ("config", "point_id")][:8]
    payload = {"points": len(points), "computed": computed, "resumed": resumed, "out": str(out),
               "backend": args.backend, "evaluator": args.evaluator, "columns": list(df.columns)}
    text = table(df[shown].head(20).to_dict("records")) + f"\n\n{len(points)} points ({resumed} resumed) -> {out}"
    return Result(payload, text)
