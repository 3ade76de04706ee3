"""``osdsim validate TRACE``: replay a real run through the calibrated cost model; predicted vs measured."""

from __future__ import annotations

import json
from pathlib import Path

from osdsim.cli.common import Result, UsageError, add_parser


def register(subparsers) -> None:
    p = add_parser(subparsers, "validate", "predicted vs measured for a real run's trace",
                   "Replay TRACE at batch 1 (its prompts, output lengths, gamma; the acceptance it "
                   "measured) with the cost model of --card, and report the median and 90th-percentile "
                   "absolute percentage error of per-step latency, per-record latency and tokens/s, "
                   "throughput, the speedup over its baseline records, and alpha over records for "
                   "online runs.")
    p.add_argument("trace", help="a run trace (osdsim run), or an imported vLLM log (osdsim import --out): "
                                 "that one is checked through its logged throughput")
    p.add_argument("--card", default="cpu", help="hardware card, e.g. one written by `osdsim calibrate`")
    p.add_argument("--cost", choices=("measured", "roofline"), default="measured",
                   help="measured: interpolate the card's measured table, roofline elsewhere (default)")
    p.add_argument("--extrapolate", choices=("anchored", "roofline"), default="anchored",
                   help="outside the table's contexts: the nearest table value scaled by the roofline's "
                        "ratio (default), or the roofline alone")
    p.add_argument("--models", help="model specs JSON written by `osdsim profile`")
    p.add_argument("--target-card", help="LLM card for the trace's target (renamed to its meta name)")
    p.add_argument("--draft-card", help="LLM card for the trace's draft")
    p.add_argument("--curves", help="learning curves (default: <trace>.curves.json if present)")
    p.add_argument("--repeats", type=int, default=16, help="Monte-Carlo draws per record for the acceptance model")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--records", default="all", metavar="all|even|odd|A:B",
                   help="validate these records only: even or odd record numbers (e.g. odd, after "
                        "calibrating on even), or A:B for records A <= record < B")
    p.add_argument("--scale", default="1",
                   help="multiply every predicted time by this factor (a card profiled on a quiet machine, "
                        "a run recorded under load); 'auto': the median measured/predicted step ratio of the "
                        "other records (with --records even|odd) or of all records")
    p.add_argument("--simulator", action="store_true",
                   help="also replay the records through the discrete-event simulator (an online run with "
                        "its learning curves and the simulator's distiller)")
    p.add_argument("--context", type=int, default=512,
                   help="imported logs only: mean context (tokens) of the logged batches (default 512)")
    p.add_argument("--figure", help="write the predicted-vs-measured figure (PNG) here")
    p.add_argument("--table", help="write the per-record table (CSV) here")
    p.set_defaults(handler=run)


def run(args) -> Result:
    from osdsim.calibrate import MeasuredCost
    from osdsim.calibrate.hf_config import load_specs, resolve_spec
    from osdsim.cost import RooflineCost
    from osdsim.specs import load_hardware
    from osdsim.trace import curves_path, read_trace
    from osdsim.validate.core import validate_trace

    if args.repeats < 1:
        raise UsageError("--repeats must be >= 1")
    trace = read_trace(args.trace)
    names = (trace.meta.get("target") or args.target_card, trace.meta.get("draft") or args.draft_card)
    if not all(names):
        raise UsageError(f"{args.trace}: the meta line names no target and draft (give --target-card "
                         "and --draft-card)")
    specs = load_specs(args.models) if args.models else {}
    target = resolve_spec(str(names[0]), specs, args.target_card)
    draft = resolve_spec(str(names[1]), specs, args.draft_card)
    hw = load_hardware(args.card)
    if trace.steps.empty and len(trace.aggregates):
        return _imported(args, trace, hw, target, draft)
    cost = (MeasuredCost(hw, rows=_table_for(hw, names, args, hw.measured), extrapolate=args.extrapolate,
                         update_rows=_table_for(hw, names, args, hw.measured_updates))
            if args.cost == "measured" else RooflineCost(hw))
    uncovered = _uncovered(cost, names) if args.cost == "measured" else []
    scale = _scale(args, trace, cost, target, draft)
    if scale != 1.0:
        from osdsim.calibrate import ScaledCost

        cost = ScaledCost(cost, scale)
    curves = None
    cpath = Path(args.curves or curves_path(args.trace))
    if cpath.is_file():
        curves = json.loads(cpath.read_text(encoding="utf-8"))
    elif args.curves:
        raise UsageError(f"curves file {args.curves} does not exist")
    v = validate_trace(trace, cost, target, draft, curves=curves, repeats=args.repeats, seed=args.seed,
                       records=args.records)
    payload = {"trace": args.trace, "records_used": args.records, "card": hw.name, "cost": args.cost, "target": target.name,
               "draft": draft.name, "scale": scale, "gamma": trace.meta.get("gamma"), "num_records": int(len(v.records)),
               "num_steps": int(len(v.steps)), "curves": str(cpath) if curves else None,
               "load_average_1m": trace.meta.get("load_average_1m"), "priced_by_roofline": uncovered,
               **v.summary}
    if args.simulator:
        payload["simulator"] = _simulate(args, trace, cost, target, draft, hw)
    if args.table:
        v.records.to_csv(args.table, index=False)
        payload["table"] = args.table
    if args.figure:
        from osdsim.plots.validate import validation_figure
        from osdsim.validate.core import speed_pairs

        fig = validation_figure(v.records, v.steps, v.model_records,
                                title=f"{Path(args.trace).name} on {hw.name} ({args.cost})",
                                speed=speed_pairs(v.records))
        Path(args.figure).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.figure, dpi=120)
        import matplotlib.pyplot as plt

        plt.close(fig)
        payload["figure"] = args.figure
    return Result(payload, _text(payload))


def _imported(args, trace, hw, target, draft) -> Result:
    """An imported log (aggregate lines only): its logged generation throughput per interval
    against the cost model at the logged batch (``validate.imported.throughput_check``)."""
    from osdsim.cost import MeasuredCost, RooflineCost
    from osdsim.validate.imported import throughput_check

    if args.context < 1:
        raise UsageError("--context must be >= 1")
    cost = MeasuredCost(hw) if args.cost == "measured" else RooflineCost(hw)
    rows = trace.aggregates.astype(object).where(trace.aggregates.notna(), None).to_dict(orient="records")
    check = throughput_check(rows, cost, target, draft, args.context)
    if check is None:
        if any(r.get("gen_tok_s") and r.get("running") for r in rows):
            raise UsageError(f"{args.trace}: its intervals have throughput lines but no gamma or number of "
                             "drafts (this vLLM version logs counts only), so tokens per step are unknown")
        raise UsageError(f"{args.trace}: an imported log validates only through its throughput lines "
                         "(vLLM's 'Avg generation throughput … Running: N reqs' beside the speculative "
                         "metrics), and this one has none")
    e = check["error"]
    payload = {"trace": args.trace, "card": hw.name, "cost": args.cost, "target": target.name,
               "draft": draft.name, "imported": True, "throughput_check": check}
    text = (f"{args.trace}: imported log, {e['points']} intervals with throughput; card {hw.name} ({args.cost} "
            f"cost), context {args.context}\n  generation throughput at the logged batch: measured median "
            f"{check['measured_median_tok_s']:.1f} tok/s, predicted {check['predicted_median_tok_s']:.1f}; "
            f"{_fmt(e)}")
    return Result(payload, text)


def _uncovered(cost, names) -> list[str]:
    """The trace's models the card's measured table has no forwards of (priced by its roofline)."""
    timed = set(cost.measured_models())
    return [str(n) for n in names if str(n) not in timed]


def _table_for(hw, names, args, rows) -> tuple:
    """The card's table ``rows``, those keyed by an LLM card name (``calibrate --target-card``)
    renamed to the trace's model name where the trace's own name has no rows."""
    from osdsim.specs import load_model

    have = {row[0] for row in rows}
    renames = {}
    for name, card in zip(names, (args.target_card, args.draft_card)):
        if card and str(name) not in have and load_model(card).name in have:
            renames[load_model(card).name] = str(name)
    return tuple((renames.get(r[0], r[0]), *r[1:]) for r in rows)


def _scale(args, trace, cost, target, draft) -> float:
    """The --scale factor; 'auto' fits it on the records not being validated (all if none)."""
    from dataclasses import replace

    if args.scale != "auto":
        try:
            value = float(args.scale)
        except ValueError:
            raise UsageError(f"--scale must be a positive number or auto, got {args.scale!r}") from None
        if not value > 0:
            raise UsageError(f"--scale must be positive, got {args.scale!r}")
        return value
    from osdsim.calibrate import fitted_scale
    from osdsim.validate.core import select_records
    from osdsim.validate.replay import replay_steps

    other = {"even": "odd", "odd": "even"}.get(args.records, "all")
    part = select_records(trace, other)  # with A:B, fitted on all records
    t = replace(target, name=str(trace.meta["target"]))
    d = replace(draft, name=str(trace.meta["draft"]))
    steps = replay_steps(part.steps, part.records, cost, t, d)
    return fitted_scale(steps["measured_s"], steps["predicted_s"])


def _simulate(args, trace, cost, target, draft, hw) -> dict:
    """Write the simulator's inputs to a temporary folder and run it (see validate.simulated)."""
    import tempfile

    import yaml

    from osdsim.validate.core import select_records, trace_gamma
    from osdsim.validate.simulated import card_mapping, compare, simulate_records, workload_frame

    part = select_records(trace, args.records)
    gap = 10.0 * float(trace.records["latency_s"].max()) + 1.0
    online = _online_replay(args, trace)
    workload = workload_frame(trace.records if online else part.records, gap)
    with tempfile.TemporaryDirectory(prefix="osdsim-validate-") as tmp:
        paths = {}
        for role, spec in (("target", target), ("draft", draft)):
            paths[role] = str(Path(tmp) / f"{role}.yaml")
            Path(paths[role]).write_text(yaml.safe_dump(card_mapping(spec)), encoding="utf-8")
        workload_path = str(Path(tmp) / "workload.csv")
        workload.to_csv(workload_path, index=False)
        sim = simulate_records(cost, target_card=paths["target"], draft_card=paths["draft"],
                               hardware=args.card, workload_file=workload_path,
                               acceptance_trace=str(Path(args.trace).resolve()),
                               gamma=trace_gamma(trace), seed=args.seed,
                               domains=sorted(set(workload["domain"])), **online)
    return compare(part.records, workload, sim) | {"online": bool(online)}


def _online_replay(args, trace) -> dict:
    """Learning curves and update interval for replaying an online run ({} for a static one)."""
    from osdsim.trace import curves_path

    if not len(trace.updates):
        return {}
    interval = (trace.meta.get("online") or {}).get("update_interval")
    cpath = Path(args.curves or curves_path(args.trace))
    if not interval or not cpath.is_file():
        raise UsageError("--simulator replays an online run with its learning curves (<trace>.curves.json "
                         "or --curves) and the update_interval of its meta line")
    return {"curves": str(cpath.resolve()), "update_interval": int(interval)}


def _fmt(stats: dict | None) -> str:
    if not stats or not stats.get("points"):
        return "n/a"
    return (f"median {stats['median_ape_pct']:.2f}%  p90 {stats['p90_ape_pct']:.2f}%  "
            f"bias {stats['mean_signed_pct']:+.2f}%  (n={stats['points']})")


def _text(p: dict) -> str:
    scale = f", predictions x{p['scale']:.3f}" if p.get("scale", 1.0) != 1.0 else ""
    lines = [f"{p['trace']}: {p['num_records']} records, {p['num_steps']} steps; card {p['card']} "
             f"({p['cost']} cost{scale})"
             + (f"; recorded at load average {p['load_average_1m']:.2f}"
                if isinstance(p.get("load_average_1m"), (int, float)) else ""),
             *([f"warning: the card's measured table has no forwards of {', '.join(p['priced_by_roofline'])}; "
                "they are priced by its roofline (a table keyed by LLM card names needs the same "
                "--target-card/--draft-card here)"] if p.get("priced_by_roofline") else []),
             "", "absolute percentage error, predicted vs measured:",
             f"  per-step latency            {_fmt(p['steps']['latency'])}",
             f"    draft part                {_fmt(p['steps']['draft'])}",
             f"    verify part               {_fmt(p['steps']['verify'])}",
             f"    noise floor (same drafted and context, vs their median): "
             f"{_fmt(p['steps']['noise_floor'])}"]
    corr = p["steps"].get("draft_verify_error_correlation")
    if corr is not None:
        lines.append(f"    draft and verify errors per record correlate at {corr:.2f}"
                     + (" (one factor on both: the machine's speed while the record ran)" if corr > 0.8 else ""))
    for key, label in (("replayed", "measured acceptance"), ("acceptance_model", "acceptance model")):
        block = p[key]
        lines += [f"  {label}:",
                  f"    per-record latency        {_fmt(block['latency'])}",
                  f"    per-record tokens/s       {_fmt(block['tok_s'])}",
                  f"    throughput                measured {block['throughput']['measured_tok_s']:.2f} tok/s, "
                  f"predicted {block['throughput']['predicted_tok_s']:.2f} ({block['throughput']['error_pct']:+.2f}%)"]
        sp = block.get("speedup")
        if sp:
            lines.append(f"    speedup over baseline     measured {sp['measured']:.3f}x, predicted "
                         f"{sp['predicted']:.3f}x ({sp['error_pct']:+.2f}%)")
    if p.get("simulator"):
        sim = p["simulator"]
        lines += ["  simulator (one acceptance draw per request):",
                  f"    per-record latency        {_fmt(sim['latency'])}",
                  f"    throughput                measured {sim['throughput']['measured_tok_s']:.2f} tok/s, "
                  f"predicted {sim['throughput']['predicted_tok_s']:.2f} ({sim['throughput']['error_pct']:+.2f}%)"]
        if sim.get("speedup"):
            sp = sim["speedup"]
            lines.append(f"    speedup over baseline     measured {sp['measured']:.3f}x, predicted "
                         f"{sp['predicted']:.3f}x ({sp['error_pct']:+.2f}%)")
        a = sim.get("alpha") or {}
        if a.get("records"):
            how = " (learning curves + the simulator's distiller)" if sim.get("online") else ""
            lines.append(f"    alpha over records        median |error| {a['median_abs_error']:.3f}; moving average "
                         f"({a['window']}): {_fmt(a['moving_average'])}{how}")
    if "baseline" in p:
        lines.append(f"  baseline per-record latency {_fmt(p['baseline']['latency'])}")
        lines.append(f"    noise floor (same prompt and output length, vs their median): "
                     f"{_fmt(p['baseline'].get('noise_floor'))}")
        la = p["load_adjusted"]
        lines.append(f"  load-adjusted record latency {_fmt(la['latency'])} (each scaled by its own baseline's "
                     f"measured/predicted, median {la['load_factor_median']:.3f}; not a prediction)")
    if p.get("updates", {}).get("points"):
        lines.append(f"  draft update time            {_fmt(p['updates'])}")
    if "alpha" in p and p["alpha"].get("records"):
        a = p["alpha"]
        lines.append(f"  alpha over records          median |error| {a['median_abs_error']:.3f}, p90 "
                     f"{a['p90_abs_error']:.3f}; moving average ({a['window']}): {_fmt(a['moving_average'])}")
    for key in ("figure", "table"):
        if p.get(key):
            lines.append(f"wrote {p[key]}")
    return "\n".join(lines)
