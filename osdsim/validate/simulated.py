"""Replay a run's records through the discrete-event simulator (``osdsim.sim.simulate``).

The simulator gets the run's own requests (prompt and output lengths, domains) as a ``replay``
workload spaced far enough apart that none waits (batch 1, no queue, as the real run served
them), the run's γ, an acceptance model from the trace (its empirical accepted counts), and the
calibrated cost model; its plain-decoding baseline gives the predicted speedup. Unlike
:func:`osdsim.validate.replay.model_records` each request draws its acceptance once, as in any
simulation. An online run is replayed with its learning curves and the simulator's distiller
updating the draft every ``update_interval`` records in exclusive mode, as the real run did
between records; the whole stream is served (the draft learns from all of it) and the chosen
records compared, α over records included. Files the simulator reads (model cards, the
workload) are prepared by the caller.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from osdsim.specs import ModelSpec


def workload_frame(records: pd.DataFrame, gap_s: float) -> pd.DataFrame:
    """The speculative records as a replay workload: arrival every ``gap_s`` seconds."""
    spec = records[records.get("mode", pd.Series("speculative", index=records.index)) != "baseline"]
    spec = spec.sort_values("record")
    prompt = spec["prompt_tokens"] if "prompt_tokens" in spec else pd.Series(1, index=spec.index)
    return pd.DataFrame({"record": spec["record"].to_numpy(), "arrival_s": [i * gap_s for i in range(len(spec))],
                         "prompt_tokens": prompt.fillna(1).astype(int).to_numpy(),
                         "output_tokens": spec["num_tokens"].astype(int).to_numpy(),
                         "domain": spec["domain"].astype(str).to_numpy() if "domain" in spec else "default"})


def card_mapping(spec: ModelSpec) -> dict[str, Any]:
    """An LLM card mapping for ``spec`` (what ``load_model`` reads back as the same spec)."""
    from dataclasses import asdict

    return {k: v for k, v in asdict(spec).items()}


def simulate_records(cost, *, target_card: str, draft_card: str, hardware: str, workload_file: str,
                     acceptance_trace: str, gamma: int, seed: int = 0, curves: str | None = None,
                     update_interval: int | None = None, domains=()) -> dict[str, Any]:
    """Run the simulator on the prepared files; per-request predictions and the speedup.

    With ``curves`` (a learning-curves JSON) and ``update_interval``, the run is replayed online.
    """
    from osdsim.sim import simulate

    scenario = {
        "seed": seed, "target": target_card, "draft": draft_card, "hardware": hardware,
        "replicas": 1, "max_batch": 1, "gamma": int(gamma), "kv_tokens": 1e9, "context_bucket": 1,
        "workload": {"arrival": "replay", "file": workload_file},
        "acceptance": {"model": "empirical", "trace": acceptance_trace},
    }
    if domains:
        scenario["workload"]["domains"] = sorted(domains)
    if curves is not None and update_interval:
        scenario["acceptance"] = {"model": "learning_curve", "curves": curves}
        scenario["online"] = {"update_interval": int(update_interval), "mode": "exclusive"}
    from osdsim.sim import load_scenario

    parsed = load_scenario(scenario)
    result = simulate(parsed, cost=cost, baseline=False)
    base = simulate(parsed.plain(), cost=cost, baseline=False)
    return {"requests": result.requests, "baseline_requests": base.requests, "summary": result.summary}


def compare(records: pd.DataFrame, workload: pd.DataFrame, sim: dict[str, Any]) -> dict[str, Any]:
    """Predicted (simulated) vs measured per-record latency, throughput and speedup for the
    ``records`` given (a subset of the workload's), and α over records where both have it."""
    from osdsim.validate import report

    mode = records.get("mode", pd.Series("speculative", index=records.index))
    served = pd.DataFrame({"record": workload["record"].to_numpy(),
                           "predicted_latency_s": sim["requests"]["latency_s"].to_numpy(),
                           "predicted_base_s": sim["baseline_requests"]["latency_s"].to_numpy(),
                           "predicted_alpha": sim["requests"]["alpha"].to_numpy()
                           if "alpha" in sim["requests"] else float("nan")})
    spec = records[mode != "baseline"]
    table = spec.loc[:, [c for c in ("record", "num_tokens", "latency_s", "alpha") if c in spec]].merge(
        served, on="record", how="inner").sort_values("record")
    out = {"latency": report.error_stats(table["predicted_latency_s"], table["latency_s"]),
           "throughput": report.throughput(table), "updates": int(sim["summary"].get("updates") or 0)}
    if "alpha" in table and table[["alpha", "predicted_alpha"]].notna().all(axis=1).any():
        out["alpha"] = report.alpha_over_records(table)
    base = records[mode == "baseline"]
    if len(base):
        both = base[base["record"].isin(set(table["record"]))]
        measured = float(both["latency_s"].mean() / table["latency_s"].mean())
        predicted_speedup = float(table["predicted_base_s"].mean() / table["predicted_latency_s"].mean())
        out["speedup"] = {"records": int(len(both)), "measured": measured, "predicted": predicted_speedup,
                          "error_pct": (predicted_speedup / measured - 1.0) * 100.0}
    return out
