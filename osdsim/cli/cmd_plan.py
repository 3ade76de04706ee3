"""``osdsim plan``: fewest replicas/GPUs meeting a latency SLO, for plain, static speculation and OSD."""

from __future__ import annotations

import sys
from pathlib import Path

from osdsim.cli.common import Result, UsageError, add_parser, table


def register(subparsers) -> None:
    p = add_parser(subparsers, "plan", "capacity plan: fewest GPUs that meet a latency SLO",
                   "Search with the simulator for the fewest replicas that meet --slo, for plain "
                   "decoding, static speculative decoding and OSD, over candidate drafts and gammas. "
                   "Answers are in replicas and GPUs (a replica spans the scenario's tp GPUs).")
    p.add_argument("scenario", nargs="?", help="base scenario (YAML or TOML); default: built-in defaults")
    p.add_argument("--slo", action="append", default=[], metavar="KEY=SECONDS",
                   help="an upper bound, e.g. tpot_p99_s=0.05 or ttft_p99_s=2 (repeatable)")
    p.add_argument("--rate", action="append", type=float, default=[],
                   help="arrival rate(s) in requests/s to plan for (repeatable; default: the scenario's)")
    p.add_argument("--draft", action="append", default=[], help="candidate draft card(s) (repeatable)")
    p.add_argument("--gamma", action="append", default=[], help="candidate gamma(s), integers or 'goodput'")
    p.add_argument("--modes", default="plain,spec,osd", help="comma list of plain, spec, osd")
    p.add_argument("--max-replicas", type=int, default=128)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a scenario field (dotted path), e.g. --set workload.num_requests=2000")
    p.add_argument("--out", help="write the plan table here (.csv or .parquet)")
    p.set_defaults(handler=run)


def _gamma(text: str):
    if text == "goodput":
        return text
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"--gamma must be an integer or 'goodput', got {text!r}") from None


def run(args) -> Result:
    from functools import partial

    import pandas as pd

    from osdsim.plan import parse_slo, plan
    from osdsim.sim.scenario import apply_overrides, read_scenario_file
    from osdsim.sweep.files import write_table
    from osdsim.sweep.runner import simulate_evaluator

    if not args.slo:
        raise UsageError("give at least one --slo, e.g. --slo tpot_p99_s=0.05")
    slo = parse_slo(args.slo)
    # --set means what it means for `osdsim simulate`: dotted key, value parsed as a YAML scalar.
    base = apply_overrides(read_scenario_file(args.scenario) if args.scenario else {}, args.set)
    base_dir = str(Path(args.scenario).parent) if args.scenario else "."
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    rates = args.rate or [float(base.get("workload", {}).get("rate", 2.0))]
    if any(r <= 0 for r in rates):
        raise UsageError("--rate must be positive")
    rows = []
    for rate in rates:
        scen = apply_overrides(base, {"workload.rate": rate})  # a float stays a float

        def report(row, rate=rate):
            sys.stderr.write(f"plan: rate {rate:g}/s {row['mode']} draft={row['draft']} gamma={row['gamma']}: "
                             f"{row['replicas']} replicas\n")

        for row in plan(scen, slo, partial(simulate_evaluator, baseline=False, base_dir=base_dir), modes=modes, drafts=args.draft or None,
                        gammas=[_gamma(g) for g in args.gamma] or None, max_replicas=args.max_replicas,
                        on_row=report):
            rows.append({"rate": rate, **row})
    df = pd.DataFrame(rows)
    if args.out:
        write_table(df, Path(args.out))
    best = df[df["best"]] if "best" in df else df
    shown = ["rate", "mode", "draft", "gamma", "replicas", "gpus", *slo.bounds, "gpu_hours_per_day"]
    text = "Best per mode and rate:\n" + table(best[[c for c in shown if c in best]].to_dict("records"))
    if args.out:
        text += f"\n\nfull table: {args.out}"
    return Result({"slo": slo.bounds, "rows": df.to_dict("records")}, text)
