"""``osdsim plan``: fewest replicas/GPUs meeting a latency SLO, for plain, static speculation and OSD."""

from __future__ import annotations

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


def register(subparsers) -> None:
    p = add_parser(subparsers, "plan", "capacity plan: fewest GPUs that meet a latency SLO",
                   "Search with the simulator for the fewest replicas that meet --slo, for plain "
                   "decoding, static speculative decoding and OSD, over candidate drafts, gammas and "
                   "tensor-parallel sizes. A set-up is feasible only if it serves the offered rate (served "
                   "rate within --rate-tolerance of it, queue not growing) and meets every SLO named. "
                   "Answers are in replicas and GPUs (a replica spans tp GPUs); every answer prints what it "
                   "assumed and why each rejected row was rejected.\n\n"
                   "example:\n  osdsim plan examples/scenarios/vicuna-a100.yaml --slo tpot_p99_s=0.025 "
                   "--slo ttft_p99_s=1 --rate 10 --draft llama-160m --gamma 3 --gamma goodput")
    p.add_argument("scenario", nargs="?", help="base scenario (YAML or TOML); default: built-in defaults")
    p.add_argument("--slo", action="append", default=[], metavar="KEY=SECONDS",
                   help="an upper bound, e.g. tpot_p99_s=0.05 or ttft_p99_s=2 (repeatable); KEY is "
                        "{ttft,tpot,itl,latency|e2e}_{mean,p50,p90,p95,p99}_s")
    p.add_argument("--rate-tolerance", type=float, default=0.05, metavar="FRACTION",
                   help="how far the served rate may fall short of the offered one, and the queue grow "
                        "(fraction of the offered rate; default 0.05)")
    p.add_argument("--tp", action="append", default=[], metavar="N|auto",
                   help="target tensor-parallel size(s) to search (repeatable or comma list; default auto: "
                        "powers of two up to the hardware card's gpus_per_node that divide the heads)")
    p.add_argument("--draft-tp", action="append", default=[], metavar="N|auto",
                   help="draft tensor-parallel size(s) (default auto: 1 and the target's tp)")
    p.add_argument("--rate", action="append", type=float, default=[],
                   help="arrival rate(s) in requests/s to plan for (repeatable; default: the scenario's)")
    p.add_argument("--draft", action="append", default=[], help="candidate draft card(s) (repeatable)")
    p.add_argument("--method", action="append", default=[], metavar="NAME",
                   help="candidate speculation method(s), instead of --draft (repeatable or comma list): the "
                        "scenario's `methods` entries or built-ins plain, model:CARD, eagle, mtp, medusa, ngram, "
                        "self:K; the best set-up of each method is reported")
    p.add_argument("--gamma-policy", action="append", default=[], metavar="POLICY",
                   help="gamma policies to try besides fixed (repeatable or comma list): hf-heuristic, "
                        "adaptive[:THRESHOLD]")
    p.add_argument("--gamma", action="append", default=[], help="candidate gamma(s), integers or 'goodput'")
    p.add_argument("--modes", default="plain,spec,osd", help="comma list of plain, spec, osd (default all three)")
    p.add_argument("--max-replicas", type=int, default=128, help="give up above this many replicas (default 128)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a scenario field (dotted path), e.g. --set workload.num_requests=2000")
    p.add_argument("--framework", help=FRAMEWORK_CARD_HELP + " for every scenario (same as --set framework=NAME)")
    p.add_argument("--out", help="write the plan table here (.csv or .parquet; every row, rejected ones with "
                                 "their reason)")
    add_progress(p)
    p.set_defaults(handler=run, writes=("out",))


def _gamma(text: str):
    if text == "goodput":
        return text
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"--gamma must be an integer or 'goodput', got {text!r}") from None


def _items(values: list[str]) -> list[str]:
    """``--method a,b --method c`` → [a, b, c]."""
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def _sizes(items: list[str], flag: str) -> list[int] | None:
    """``--tp 1,2 --tp 4`` → [1, 2, 4]; None for auto (or nothing given)."""
    values = _items(items)
    if not values or values == ["auto"]:
        return None
    try:
        sizes = sorted({int(v) for v in values})
    except ValueError:
        raise UsageError(f"{flag} takes positive integers or auto, got {', '.join(values)}") from None
    if sizes[0] < 1:
        raise UsageError(f"{flag} must be >= 1")
    return sizes


def run(args) -> Result:
    from osdsim.plan import parse_slo
    from osdsim.plan.workflow import plan_table

    if not args.slo:
        raise UsageError("give at least one --slo, e.g. --slo tpot_p99_s=0.05")
    if any(r <= 0 for r in args.rate):
        raise UsageError("--rate must be positive")
    if not 0 <= args.rate_tolerance < 1:
        raise UsageError("--rate-tolerance must be in [0, 1)")
    if args.method and args.draft:
        raise UsageError("give candidate drafts with --draft or with --method (model:CARD), not both")
    slo = parse_slo(args.slo, rate_tolerance=args.rate_tolerance)
    df, assumed = plan_table(args.scenario, slo, rates=args.rate, overrides=args.set + _framework_set(args),
                             modes=[m.strip() for m in args.modes.split(",") if m.strip()],
                             drafts=args.draft or None, gammas=[_gamma(g) for g in args.gamma] or None,
                             methods=_items(args.method) or None, policies=_items(args.gamma_policy) or None,
                             max_replicas=args.max_replicas, out=args.out, tps=_sizes(args.tp, "--tp"),
                             draft_tps=_sizes(args.draft_tp, "--draft-tp"),
                             progress=progress_on(args))
    for col in ("draft", "draft_tp", "gamma_policy", "mean_alpha"):  # plain decoding has none: "-", not nan
        if col in df:
            df[col] = df[col].astype(object).where(df[col].notna(), "-")
    best = df[df["best"]] if "best" in df else df
    shown = ["rate", "mode", "method", "tp", "draft", "draft_tp", "gamma", "gamma_policy", "replicas", "gpus",
             *slo.bounds, "served_ratio", "mean_alpha", "gpu_hours_per_day"]
    per = "mode, method and rate" if "method" in df else "mode and rate"
    text = f"Best per {per}:\n" + table(best[[c for c in shown if c in best]].to_dict("records"))
    missing = sorted(set(df["mode"]) - set(best["mode"])) if len(df) else []
    if missing:
        text += f"\n(no feasible set-up for {', '.join(missing)} within --max-replicas {args.max_replicas})"
    rejected = df[~df["feasible"]] if "feasible" in df else df.iloc[0:0]
    pruned = rejected["reason"].str.startswith("cannot beat") if len(rejected) else rejected.index == 0
    if len(rejected[~pruned]):
        cols = ["rate", "mode", "method", "tp", "draft", "draft_tp", "gamma", "gamma_policy", "reason"]
        text += "\n\nRejected:\n" + table(rejected[~pruned][[c for c in cols if c in rejected]].to_dict("records"))
    if pruned.sum():
        text += (f"\n\n{int(pruned.sum())} candidates not simulated: they could not use fewer GPUs than the best "
                 "row of their mode found before them (reasons in the --out table)")
    text += "\n\nAssumed:\n" + "\n".join(f"  {line}" for line in assumed)
    if args.out:
        text += f"\n\nfull table: {args.out}"
    return Result({"slo": slo.bounds, "rate_tolerance": slo.rate_tolerance, "assumptions": assumed,
                   "rows": df.to_dict("records")}, text)
