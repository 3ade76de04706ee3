"""``osdsim calibrate``: fit a hardware card's efficiencies and overheads to measured timings.

The work is ``osdsim.calibrate.workflow.calibrate_card``; this module parses, writes the card
(``--out``) and prints the fit.
"""

from __future__ import annotations

from pathlib import Path

from osdsim.cli.common import Result, add_parser, key_values, table
from osdsim.safe.atomic import write_text_atomic


def register(subparsers) -> None:
    p = add_parser(subparsers, "calibrate", "fit the cost model to measured forward timings",
                   "Least-squares fit (relative error, bounded) of bandwidth and compute efficiency "
                   "and per-forward and per-layer overhead of --hardware to the timings of "
                   "`osdsim profile` (--timings CSV) or to the draft/verify step times of a run "
                   "trace (--trace). Reports the error at every point; --out writes a hardware card "
                   "with the fitted numbers and the measured table.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--timings", help="CSV from `osdsim profile` (model,batch,new_tokens,context,seconds)")
    src.add_argument("--trace", help="a run trace (step lines with draft_s, verify_s, position)")
    p.add_argument("--hardware", default="cpu", help="base hardware card: spec-sheet peaks and bandwidth (default cpu)")
    p.add_argument("--models", help="model specs JSON (default: <timings>.models.json or <trace>.models.json if present; the "
                        "committed traces have one)")
    p.add_argument("--target-card", help="LLM card of the trace's target (its architecture; the written "
                                         "table is keyed by the card's name, so scenarios naming it use it)")
    p.add_argument("--draft-card", help="LLM card of the trace's draft (likewise)")
    p.add_argument("--dtype", help="dtype the timings ran in (default: the card's)")
    p.add_argument("--name", help="name of the written card (default: the --out file's stem)")
    p.add_argument("--out", help="write the calibrated hardware card YAML here")
    p.add_argument("--records", default="all", metavar="all|even|odd|A:B",
                   help="with --trace: fit to these records only (all, even, odd or A:B; validate on the "
                        "others for a held-out check)")
    p.add_argument("--context-fit", choices=("linear", "bins"), default="linear",
                   help="with --trace: per model and new-token count, a least-squares line in context "
                        "(default; every observation informs every context) or one value per 32-token "
                        "context bin (--statistic)")
    p.add_argument("--statistic", choices=("mean", "median"), default="mean",
                   help="mean (default): least squares, whose predictions add up to what was measured "
                        "(throughput, record latency on a machine with bursts of other work); median: "
                        "least absolute deviations, the machine's usual speed (typical records)")
    p.add_argument("--no-table", action="store_true",
                   help="leave the measured tables (forwards and draft updates) out of the card")
    p.set_defaults(handler=run, writes=("out",))


def run(args) -> Result:
    payload, fit = calibrate_to(args.out, name=args.name, timings=args.timings, trace=args.trace,
                                hardware=args.hardware, models=args.models, target_card=args.target_card,
                                draft_card=args.draft_card, dtype=args.dtype, records=args.records,
                                context_fit=args.context_fit, statistic=args.statistic,
                                keep_table=not args.no_table)
    return Result(payload, _text(payload, fit))


def calibrate_to(out: str | None, name: str | None = None, **options):
    """``osdsim.calibrate.workflow.calibrate_card`` and, with ``out``, the card written there
    (named ``name``, default the file's stem). Returns (payload, fit)."""
    from osdsim.calibrate.card import card_text
    from osdsim.calibrate.workflow import calibrate_card

    cal = calibrate_card(**options)
    payload = cal.payload
    if out:  # atomic: a killed run leaves the old card or the new one, never an empty file
        write_text_atomic(out, card_text(cal.card(name or Path(out).stem), cal.base), "card")
        payload["out"] = out
    return payload, cal.fit


def _text(payload: dict, fit) -> str:
    p = payload["params"]
    shown = {"bandwidth_efficiency": p["bandwidth_efficiency"], "compute_efficiency": p["compute_efficiency"],
             "overhead_per_forward_us": p["overhead_per_forward_s"] * 1e6,
             "overhead_per_layer_us": p["overhead_per_layer_s"] * 1e6,
             **{k: v * 100 if "error" in k else v for k, v in payload["fit"].items()}}
    pts = fit.points.assign(error_pct=fit.points["rel_error"] * 100)
    cols = ["model", "batch", "new_tokens", "context", "seconds", "predicted_s", "error_pct"]
    out = [key_values(shown), "(errors in percent)", "", table(pts[cols].head(60).to_dict(orient="records"))]
    if len(pts) > 60:
        out.append(f"... {len(pts) - 60} more points (--json for all)")
    u = payload.get("updates")
    if u:
        out.append(f"\ndraft updates: {u['rows']} measured, fitted {u['seconds_fixed']:.4g} s + "
                   f"{u['seconds_per_token'] * 1e3:.4g} ms/token (median |error| "
                   f"{u['median_abs_rel_error'] * 100:.1f}%, max {u['max_abs_rel_error'] * 100:.1f}%)")
    if payload.get("out"):
        out.append(f"\nwrote {payload['out']}")
    return "\n".join(out)
