"""``osdsim plan``: fewest replicas/GPUs meeting a latency SLO, for plain, static speculation and OSD."""

from __future__ import annotations

import sys
from pathlib import Path

from osdsim.cli.cmd_simulate import _framework_set
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
    p.add_argument("--framework", help="serving-framework card for every scenario (models/framework; "
                                        "same as --set framework=NAME; default vllm-v1)")
    p.add_argument("--out", help="write the plan table here (.csv or .parquet)")
    p.set_defaults(handler=run)


def _gamma(text: str):
    if text == "goodput":
        return text
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"--gamma must be an integer or 'goodput', got {text!r}") from None


def plan_table(scenario: str | None, slo, *, rates=(), overrides=(), modes=("plain", "spec", "osd"),
               drafts=None, gammas=None, max_replicas: int = 128, out: str | None = None):
    """The plan's rows as a DataFrame (written to ``out`` when given); progress on stderr."""
    from functools import partial

    import pandas as pd

    from osdsim.plan import plan_rates
    from osdsim.sim.scenario_files import apply_overrides, parse_overrides, read_scenario_file
    from osdsim.sweep.files import write_table
    from osdsim.sweep.runner import simulate_evaluator

    # --set means what it means for `osdsim simulate`: dotted key, value parsed as a YAML scalar.
    base = apply_overrides(read_scenario_file(scenario) if scenario else {}, parse_overrides(overrides))
    base_dir = str(Path(scenario).parent) if scenario else "."
    rates = list(rates) or [float(base.get("workload", {}).get("rate", 2.0))]

    def report(rate, row):
        sys.stderr.write(f"plan: rate {rate:g}/s {row['mode']} draft={row['draft']} gamma={row['gamma']}: "
                         f"{row['replicas']} replicas\n")

    rows = plan_rates(base, slo, partial(simulate_evaluator, baseline=False, base_dir=base_dir), rates,
                      modes=modes, drafts=drafts, gammas=gammas, max_replicas=max_replicas, on_row=report)
    df = pd.DataFrame(rows)
    if out:
        write_table(df, Path(out))
    return df


def run(args) -> Result:
    from osdsim.plan import parse_slo

    if not args.slo:
        raise UsageError("give at least one --slo, e.g. --slo tpot_p99_s=0.05")
    if any(r <= 0 for r in args.rate):
        raise UsageError("--rate must be positive")
    slo = parse_slo(args.slo)
    df = plan_table(args.scenario, slo, rates=args.rate, overrides=args.set + _framework_set(args),
                    modes=[m.strip() for m in args.modes.split(",") if m.strip()], drafts=args.draft or None,
                    gammas=[_gamma(g) for g in args.gamma] or None, max_replicas=args.max_replicas,
                    out=args.out)
    best = df[df["best"]] if "best" in df else df
    shown = ["rate", "mode", "draft", "gamma", "replicas", "gpus", *slo.bounds, "gpu_hours_per_day"]
    text = "Best per mode and rate:\n" + table(best[[c for c in shown if c in best]].to_dict("records"))
    if args.out:
        text += f"\n\nfull table: {args.out}"
    return Result({"slo": slo.bounds, "rows": df.to_dict("records")}, text)
