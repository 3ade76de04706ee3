"""``check_trace``: what ``osdsim validate TRACE`` computes, from file names and options to a summary.

A run trace is replayed through the cost model of a hardware card (``validate.core``), optionally
scaled by a factor fitted on the records not being validated (``--scale auto``), and, with
``simulator``, through the discrete-event simulator (``validate.simulated``). An imported log
(aggregate lines only) is checked through its logged throughput (``validate.imported``). Nothing
here writes files: the CLI writes the table and the figure from what :func:`check_trace` returns.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from osdsim.validate.core import Validation


@dataclass
class TraceCheck:
    """The JSON-able summary of a check and, for a run trace, its tables (None for an import)."""

    payload: dict[str, Any]
    validation: Validation | None = None
    title: str = ""


def check_trace(path: str, *, card: str = "cpu", cost: str = "measured", extrapolate: str = "anchored",
                models: str | None = None, target_card: str | None = None, draft_card: str | None = None,
                curves: str | None = None, repeats: int = 16, seed: int = 0, records: str = "all",
                scale: str | float = 1.0, simulator: bool = False, context: int = 512,
                framework: str | None = None) -> TraceCheck:
    """Predicted vs measured for the trace at ``path`` with the hardware card ``card``.

    ``cost``: "measured" (the card's measured table, its roofline elsewhere) or "roofline";
    ``models``: model specs JSON of ``osdsim profile``; ``target_card``/``draft_card``: LLM cards
    of the pair; ``curves``: learning curves (default ``<trace>.curves.json`` if present);
    ``scale``: a factor on every predicted time, or "auto"; ``context``: mean context of an
    imported log's batches; ``framework``: the serving framework pricing what the table does not
    cover (an imported log implies its own, :func:`osdsim.validate.imported.implied_framework`).
    """
    from osdsim.calibrate.hf_config import load_specs, resolve_spec
    from osdsim.cost import MeasuredCost, RooflineCost
    from osdsim.specs import load_hardware
    from osdsim.trace import curves_path, read_curves, read_trace
    from osdsim.validate.core import validate_trace

    if not 1 <= repeats <= 10_000:
        raise ValueError(f"--repeats must be in 1..10000, got {repeats}")
    trace = read_trace(path)
    names = (trace.meta.get("target") or target_card, trace.meta.get("draft") or draft_card)
    if not all(names):
        raise ValueError(f"{path}: the meta line names no target and draft (give --target-card "
                         "and --draft-card)")
    if not models and Path(f"{path}.models.json").is_file():
        models = f"{path}.models.json"  # the run's architectures, saved beside it
    specs = load_specs(models) if models else {}
    target = resolve_spec(str(names[0]), specs, target_card)
    draft = resolve_spec(str(names[1]), specs, draft_card)
    hw = load_hardware(card)
    if trace.steps.empty and len(trace.aggregates):
        return _imported(path, trace, hw, target, draft, cost, context, framework)
    if cost == "measured":
        cards = list(zip(names, (target_card, draft_card)))
        model = MeasuredCost(hw, rows=table_for(hw.measured, cards), extrapolate=extrapolate,
                             update_rows=table_for(hw.measured_updates, cards), framework=framework)
    else:
        model = RooflineCost(hw, framework=framework)
    uncovered = uncovered_models(model, names) if cost == "measured" else []
    factor = _scale(scale, trace, records, model, target, draft)
    if factor != 1.0:
        from osdsim.calibrate import ScaledCost

        model = ScaledCost(model, factor)
    cpath = Path(curves or curves_path(path))
    fitted = None
    if cpath.is_file():
        fitted = read_curves(cpath)
    elif curves:
        raise ValueError(f"curves file {curves} does not exist")
    v = validate_trace(trace, model, target, draft, curves=fitted, repeats=repeats, seed=seed, records=records)
    payload = {"trace": path, "records_used": records, "card": hw.name, "cost": cost, "target": target.name,
               "draft": draft.name, "scale": factor, "gamma": trace.meta.get("gamma"),
               "num_records": int(len(v.records)), "num_steps": int(len(v.steps)),
               "curves": str(cpath) if fitted else None, "load_average_1m": trace.meta.get("load_average_1m"),
               "priced_by_roofline": uncovered, **v.summary}
    if simulator:
        from osdsim.validate.simulated import replay_run

        payload["simulator"] = replay_run(trace, model, target, draft, hardware=card, records=records, seed=seed,
                                          curves=fitted)
    return TraceCheck(payload, v, f"{Path(path).name} on {hw.name} ({cost})")


def _imported(path, trace, hw, target, draft, cost, context, framework=None) -> TraceCheck:
    """An imported log (aggregate lines only): its logged generation throughput per interval
    against the cost model at the logged batch (``validate.imported.throughput_check``)."""
    from osdsim.cost import MeasuredCost, RooflineCost
    from osdsim.validate.imported import implied_framework, throughput_check

    if context < 1:
        raise ValueError("--context must be >= 1")
    rows = trace.aggregates.astype(object).where(trace.aggregates.notna(), None).to_dict(orient="records")
    framework = framework or implied_framework(rows)
    model = MeasuredCost(hw, framework=framework) if cost == "measured" else RooflineCost(hw, framework=framework)
    check = throughput_check(rows, model, target, draft, context)
    if check is None:
        if any(r.get("gen_tok_s") and r.get("running") for r in rows):
            raise ValueError(f"{path}: its intervals have throughput lines but no gamma or number of "
                             "drafts (this vLLM version logs counts only), so tokens per step are unknown")
        raise ValueError(f"{path}: an imported log validates only through its throughput lines "
                         "(vLLM's 'Avg generation throughput … Running: N reqs' beside the speculative "
                         "metrics), and this one has none")
    payload = {"trace": path, "card": hw.name, "cost": cost, "target": target.name, "draft": draft.name,
               "framework": framework, "imported": True, "throughput_check": check}
    return TraceCheck(payload)


def uncovered_models(cost, names) -> list[str]:
    """The trace's models the card's measured table has no forwards of (priced by its roofline)."""
    timed = set(cost.measured_models())
    return [str(n) for n in names if str(n) not in timed]


def table_for(rows, cards) -> tuple:
    """The card's table ``rows``, those keyed by an LLM card name (``calibrate --target-card``)
    renamed to the trace's model name where the trace's own name has no rows. ``cards``: pairs
    (the trace's model name, its LLM card or None)."""
    from osdsim.specs import load_model

    have = {row[0] for row in rows}
    renames = {}
    for name, card in cards:
        if card and str(name) not in have and load_model(card).name in have:
            renames[load_model(card).name] = str(name)
    return tuple((renames.get(r[0], r[0]), *r[1:]) for r in rows)


def _scale(scale, trace, records: str, cost, target, draft) -> float:
    """The --scale factor; "auto" fits it on the records not being validated (all if none)."""
    if scale != "auto":
        try:
            value = float(scale)
        except ValueError:
            raise ValueError(f"--scale must be a positive number or auto, got {scale!r}") from None
        if not 0 < value < float("inf"):
            raise ValueError(f"--scale must be a positive finite number, got {scale!r}")
        return value
    from osdsim.calibrate import fitted_scale
    from osdsim.trace.select import select_records
    from osdsim.validate.replay import replay_steps

    other = {"even": "odd", "odd": "even"}.get(records, "all")
    part = select_records(trace, other)  # with A:B, fitted on all records
    t = replace(target, name=str(trace.meta["target"]))
    d = replace(draft, name=str(trace.meta["draft"]))
    steps = replay_steps(part.steps, part.records, cost, t, d)
    return fitted_scale(steps["measured_s"], steps["predicted_s"])
