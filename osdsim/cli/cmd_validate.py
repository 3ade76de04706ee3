"""``osdsim validate TRACE``: replay a real run through the calibrated cost model; predicted vs measured.

The work is ``osdsim.validate.workflow.check_trace``; this module parses, writes the table and the
figure (``osdsim.plots.validate``), and prints the summary.
"""

from __future__ import annotations

from osdsim.cli.common import Result, add_parser
from osdsim.safe.atomic import atomic_file


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
    p.add_argument("--framework", help="serving-framework card pricing what the card's table does not cover "
                                        "(default: an imported log's own, e.g. vllm-v0 or vllm-v1; else vllm-v1; "
                                        "a calibrated card's fitted overheads take precedence)")
    p.add_argument("--figure", help="write the predicted-vs-measured figure (PNG) here")
    p.add_argument("--table", help="write the per-record table (CSV) here")
    p.set_defaults(handler=run, writes=("table", "figure"))


def run(args) -> Result:
    return validate_to(args.trace, figure=args.figure, table=args.table, card=args.card, cost=args.cost,
                       extrapolate=args.extrapolate, models=args.models, target_card=args.target_card,
                       draft_card=args.draft_card, curves=args.curves, repeats=args.repeats, seed=args.seed,
                       records=args.records, scale=args.scale, simulator=args.simulator, context=args.context,
                       framework=args.framework)


def validate_to(trace: str, *, figure: str | None = None, table: str | None = None, **options) -> Result:
    """``osdsim.validate.workflow.check_trace`` on ``trace``; writes the per-record ``table``
    (CSV) and the predicted-vs-measured ``figure`` when given, and formats the summary."""
    from osdsim.validate.workflow import check_trace

    check = check_trace(trace, **options)
    payload = check.payload
    if check.validation is None:  # an imported log
        return Result(payload, _imported_text(payload, options.get("context", 512)))
    v = check.validation
    if table:  # atomic: written beside the target and renamed into place when complete
        with atomic_file(table, "table") as tmp:
            v.records.to_csv(tmp, index=False)
        payload["table"] = table
    if figure:
        from osdsim.plots.style import save
        from osdsim.plots.validate import validation_figure
        from osdsim.validate.core import speed_pairs

        fig = validation_figure(v.records, v.steps, v.model_records, title=check.title,
                                speed=speed_pairs(v.records))
        save(fig, figure, dpi=120)  # atomic, its folder created
        payload["figure"] = figure
    return Result(payload, _text(payload))


def _imported_text(payload: dict, context: int) -> str:
    check = payload["throughput_check"]
    return (f"{payload['trace']}: imported log, {check['error']['points']} intervals with throughput; card "
            f"{payload['card']} ({payload['cost']} cost), context {context}\n  generation throughput at the "
            f"logged batch: measured median {check['measured_median_tok_s']:.1f} tok/s, predicted "
            f"{check['predicted_median_tok_s']:.1f}; {_fmt(check['error'])}")


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
