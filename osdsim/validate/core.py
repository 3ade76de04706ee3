"""``validate_trace``: a real run's trace replayed through a cost model, errors summarised.

See :mod:`osdsim.validate.replay` for what is priced. The summary reports, each as median and
90th-percentile absolute percentage error: per-step latency, per-record latency and tokens/s
with the measured step sequence ("replayed"), and the same with acceptance drawn from the
trace's acceptance model ("acceptance_model"); throughput Σtokens/Σlatency and the speedup over
the baseline records; and α over records when the run updated its draft online. A card from
``calibrate --trace`` charges each step's share of the time spent outside the timed calls (cache
bookkeeping) to the verify, so per-step verify errors read that share high (~0.7% on the
development CPU) while record latencies, which include that time, do not.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from osdsim.specs import ModelSpec
from osdsim.trace.io import Trace
from osdsim.trace.select import select_records, speculative_records
from osdsim.validate import replay, report

__all__ = ["Validation", "acceptance_for", "select_records", "speed_pairs", "summarise", "trace_gamma",
           "validate_trace"]


@dataclass
class Validation:
    """Predicted vs measured tables and the summary of their errors."""

    steps: pd.DataFrame
    records: pd.DataFrame
    model_records: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)


def trace_gamma(trace: Trace) -> int:
    gamma = trace.meta.get("gamma")
    if isinstance(gamma, (int, float)) and gamma >= 0:
        return int(gamma)
    if len(trace.steps) and "gamma" in trace.steps:
        return int(trace.steps["gamma"].max())
    raise ValueError(f"{trace.path}: no gamma in the meta line or step lines")


def acceptance_for(trace: Trace, curves: dict | None):
    """The acceptance model of a trace: learning curves for an online run, else empirical counts."""
    from osdsim.acceptance import EmpiricalAcceptance, LearningCurveAcceptance

    if curves is not None and len(trace.updates):
        return LearningCurveAcceptance(curves), "learning_curve"
    steps = trace.steps
    if "domain" in trace.records and "domain" not in steps:
        spec = speculative_records(trace.records)
        steps = steps.merge(spec[["record", "domain"]], on="record", how="left")
    steps = steps.assign(domain=steps.get("domain", pd.Series("default", index=steps.index)))
    return EmpiricalAcceptance(steps.fillna({"domain": "default"})), "empirical"


def validate_trace(trace: Trace, cost, target: ModelSpec, draft: ModelSpec, *, curves: dict | None = None,
                   repeats: int = 16, seed: int = 0, records: str = "all") -> Validation:
    """Replay ``trace`` with ``cost`` (any CostModel) for the ``target``/``draft`` pair it ran.

    ``target.name``/``draft.name`` are renamed to the trace's meta names so a measured table
    keyed by those names applies. ``curves`` (the ``<trace>.curves.json`` sidecar) drives the
    acceptance of an online run. ``records`` ("all", "even", "odd") picks the records compared
    (a held-out half after calibrating on the other); the acceptance model and the records each
    draft had been trained on always come from the whole trace.
    """
    if trace.steps.empty or trace.records.empty:
        raise ValueError(f"{trace.path}: validation needs step and record lines (an imported "
                         "log has only aggregates: use `osdsim import` and its predictions)")
    target = replace(target, name=str(trace.meta.get("target") or target.name))
    draft = replace(draft, name=str(trace.meta.get("draft") or draft.name))
    acceptance, kind = acceptance_for(trace, curves)
    n_trained = None
    if kind == "learning_curve":
        from osdsim.calibrate.curves import trained_records

        n_trained = trained_records(speculative_records(trace.records), trace.updates)
    part = select_records(trace, records)
    steps = replay.replay_steps(part.steps, part.records, cost, target, draft)
    table = replay.replay_records(part.records, steps, cost, target, draft)
    chosen = trace.records.index[trace.records["record"].isin(set(part.records["record"]))]
    modelled = replay.model_records(trace.records.loc[chosen], acceptance, trace_gamma(trace), cost, target,
                                    draft, np.random.default_rng(seed), repeats,
                                    None if n_trained is None else n_trained.reindex(chosen))
    summary = summarise(steps, table, modelled, online=len(trace.updates) > 0)
    u = part.updates
    if u is not None and len(u) and {"num_tokens", "update_s"} <= set(u):
        summary["updates"] = report.error_stats([cost.update_s(draft, n) for n in u["num_tokens"]], u["update_s"])
    summary["acceptance_model"]["kind"] = kind
    return Validation(steps, table, modelled, summary)


def _block(records: pd.DataFrame) -> dict[str, Any]:
    spec = records[records["mode"] != "baseline"] if "mode" in records else records
    out = {"latency": report.error_stats(spec["predicted_latency_s"], spec["latency_s"]),
           "tok_s": report.error_stats(spec["predicted_tok_s"], spec["measured_tok_s"]),
           "throughput": report.throughput(spec)}
    return out


def speed_pairs(records: pd.DataFrame) -> pd.DataFrame:
    """Per record with both modes: measured / predicted latency of its baseline and of its
    speculative decoding. The two ran back to back; if they move together, what scatters the
    per-record error is the machine's speed at that moment, not the cost model."""
    if "mode" not in records:
        return pd.DataFrame(columns=["record", "baseline_ratio", "speculative_ratio"])
    ratio = records["latency_s"] / records["predicted_latency_s"]
    frame = records.assign(ratio=ratio).pivot_table(index="record", columns="mode", values="ratio")
    if not {"baseline", "speculative"} <= set(frame.columns):
        return pd.DataFrame(columns=["record", "baseline_ratio", "speculative_ratio"])
    frame = frame.dropna(subset=["baseline", "speculative"])
    return pd.DataFrame({"record": frame.index.to_numpy(), "baseline_ratio": frame["baseline"].to_numpy(),
                         "speculative_ratio": frame["speculative"].to_numpy()})


def _load_adjusted(spec: pd.DataFrame, base: pd.DataFrame) -> dict[str, Any]:
    """Per-record latency with each prediction scaled by its record's baseline measured/predicted.

    The baseline of a record runs right after it, so the ratio carries the machine's load at
    that moment (other processes on a shared CPU); what remains is the cost model's error on
    the speculative part alone. Not a prediction (it uses a measurement of the same record).
    """
    factor = (base.set_index("record")["latency_s"] / base.set_index("record")["predicted_latency_s"])
    s = spec[spec["record"].isin(factor.index)]
    adjusted = s["predicted_latency_s"].to_numpy() * factor.loc[s["record"]].to_numpy()
    return {"latency": report.error_stats(adjusted, s["latency_s"]),
            "load_factor_median": float(factor.median()) if len(factor) else None,
            "load_factor_p90": float(factor.quantile(0.9)) if len(factor) else None}


def summarise(steps: pd.DataFrame, records: pd.DataFrame, modelled: pd.DataFrame, online: bool) -> dict[str, Any]:
    spec = records[records["mode"] != "baseline"]
    base = records[records["mode"] == "baseline"]
    out: dict[str, Any] = {
        "steps": {"latency": report.error_stats(steps["predicted_s"], steps["measured_s"]),
                  "draft": report.error_stats(steps["predicted_draft_s"][steps["drafted"] > 0],
                                              steps["draft_s"][steps["drafted"] > 0]),
                  "verify": report.error_stats(steps["predicted_verify_s"], steps["verify_s"]),
                  "noise_floor": report.noise_floor(steps),
                  "draft_verify_error_correlation": report.common_factor(steps)},
        "replayed": _block(records),
        "acceptance_model": _block(modelled.assign(mode="speculative")),
    }
    if len(base):
        out["load_adjusted"] = _load_adjusted(spec, base)
        out["baseline"] = {"latency": report.error_stats(base["predicted_latency_s"], base["latency_s"]),
                           "throughput": report.throughput(base),
                           "noise_floor": report.record_noise_floor(records)}
        out["replayed"]["speedup"] = report.speedup(spec, base)
        out["acceptance_model"]["speedup"] = report.speedup(modelled, base)
    if online and "alpha" in modelled:
        out["alpha"] = report.alpha_over_records(modelled)
    return out
