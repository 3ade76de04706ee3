"""``osdsim calibrate``: fit a hardware card's efficiencies and overheads to measured timings."""

from __future__ import annotations

from pathlib import Path

from osdsim.cli.common import Result, UsageError, add_parser, key_values, table


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
    p.add_argument("--models", help="model specs JSON (default: <timings>.models.json if present)")
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
    p.set_defaults(handler=run)


def _specs(args, names: set[str], default_models: Path | None) -> dict:
    from osdsim.calibrate.hf_config import load_specs, resolve_spec

    path = args.models or (str(default_models) if default_models and default_models.is_file() else None)
    specs = load_specs(path) if path else {}
    cards = {}
    if args.trace:
        cards = {"target": args.target_card, "draft": args.draft_card}
    return {n: resolve_spec(n, specs, cards.get(_role(args, n))) for n in names}


def _role(args, name: str) -> str | None:
    return getattr(args, "_roles", {}).get(name)


def _rows(args):
    import pandas as pd

    if args.timings:
        try:
            rows = pd.read_csv(args.timings)
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read timings {args.timings}: {exc}") from None
        if args.statistic == "mean" and "mean_s" in rows:
            rows = rows.assign(seconds=rows["mean_s"])
        return rows, Path(f"{args.timings}.models.json")
    from osdsim.calibrate import timings_from_trace
    from osdsim.trace import read_trace

    trace = read_trace(args.trace)
    target, draft = trace.meta.get("target"), trace.meta.get("draft")
    if not target or not draft:
        raise UsageError(f"{args.trace}: the meta line names no target and draft")
    args._roles = {str(target): "target", str(draft): "draft"}
    from osdsim.validate.core import select_records

    trace = select_records(trace, args.records)
    from osdsim.calibrate.from_trace import update_rows

    args._updates = update_rows(trace.updates, str(draft))
    return timings_from_trace(trace.steps, str(target), str(draft), records=trace.records,
                              statistic=args.statistic, context_fit=args.context_fit), None


def run(args) -> Result:
    import yaml

    from osdsim.calibrate import fit_roofline, hardware_card
    from osdsim.specs import load_hardware

    rows, default_models = _rows(args)
    if "model" not in rows:
        raise UsageError("timings have no 'model' column")
    models = _specs(args, set(rows["model"].astype(str)), default_models)
    base = load_hardware(args.hardware)
    fit = fit_roofline(rows, models, base, dtype=args.dtype)
    payload = {"hardware": base.name, "source": args.timings or args.trace, "statistic": args.statistic,
               "params": fit.params,
               "fit": fit.summary(), "points": fit.points.to_dict(orient="records")}
    updates = getattr(args, "_updates", None)
    if updates is not None and len(updates):
        payload["updates"] = _update_fit(updates)
    if args.out:
        name = args.name or Path(args.out).stem
        source = (f"osdsim calibrate of {base.name} to {args.timings or args.trace}: median |error| "
                  f"{fit.summary()['median_abs_rel_error'] * 100:.2f}% over {len(fit.points)} points")
        card = hardware_card(fit.hardware, None if args.no_table else _card_named(args, fit.points),
                             source=source,
                             updates=None if args.no_table or updates is None else _card_named(args, updates))
        card = {"name": name, **card}
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(f"# Calibrated by `osdsim calibrate`; peaks and bandwidth from card {base.name}.\n"
                                  + yaml.safe_dump(card, sort_keys=False), encoding="utf-8")
        payload["out"] = args.out
    return Result(payload, _text(payload, fit))


def _update_fit(updates) -> dict:
    """The update-time line a + b·tokens that MeasuredCost will use, and its error per update."""
    import numpy as np

    from osdsim.cost.measured import update_lines

    (a, b), = update_lines(updates.itertuples(index=False)).values()
    err = np.abs((a + b * updates["num_tokens"]) / updates["seconds"] - 1.0)
    return {"rows": int(len(updates)), "seconds_fixed": a, "seconds_per_token": b,
            "median_abs_rel_error": float(err.median()), "max_abs_rel_error": float(err.max())}


def _card_named(args, points):
    """The table keyed by the LLM card names of --target-card/--draft-card (with --trace), so
    that a scenario naming those cards prices its forwards from it; other models keep their names."""
    from osdsim.specs import load_model

    renames = {}
    for name, role in getattr(args, "_roles", {}).items():
        card = args.target_card if role == "target" else args.draft_card
        if card:
            renames[name] = load_model(card).name
    return points.replace({"model": renames}) if renames else points


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
