"""Replay a run's records through the discrete-event simulator (``osdsim.sim.simulate``).

The simulator gets the run's own requests (prompt and output lengths, domains) as a ``replay``
workload spaced far enough apart that none waits (batch 1, no queue, as the real run served
them), the run's γ, an acceptance model from the trace (its empirical accepted counts), and the
calibrated cost model; its plain-decoding baseline gives the predicted speedup. Unlike
:func:`osdsim.validate.replay.model_records` each request draws its acceptance once, as in any
simulation. An online run is replayed with its learning curves and the simulator's distiller
updating the draft every ``update_interval`` records in exclusive mode, as the real run did
between records; the whole stream is served (the draft learns from all of it) and the chosen
records compared, α over records included (the learning curves are passed inline).
The cards and the workload go to the simulator as objects (no files).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from osdsim.specs import ModelSpec
from osdsim.trace.io import Trace
from osdsim.trace.select import speculative_records


def workload_frame(records: pd.DataFrame, gap_s: float) -> pd.DataFrame:
    """The speculative records as a replay workload: arrival every ``gap_s`` seconds."""
    spec = speculative_records(records).sort_values("record")
    prompt = spec["prompt_tokens"] if "prompt_tokens" in spec else pd.Series(1, index=spec.index)
    return pd.DataFrame({"record": spec["record"].to_numpy(), "arrival_s": [i * gap_s for i in range(len(spec))],
                         "prompt_tokens": prompt.fillna(1).astype(int).to_numpy(),
                         "output_tokens": spec["num_tokens"].astype(int).to_numpy(),
                         "domain": spec["domain"].astype(str).to_numpy() if "domain" in spec else "default"})


def simulate_records(cost, *, target: ModelSpec, draft: ModelSpec, hardware: str, workload: pd.DataFrame,
                     acceptance: dict[str, Any], gamma: int, seed: int = 0, online: dict[str, Any] | None = None,
                     ) -> dict[str, Any]:
    """Run the simulator on ``workload`` (a :func:`workload_frame`) served by ``target``/``draft``
    at batch 1; per-request predictions, those of its plain-decoding baseline, and the summary.

    ``acceptance`` is the scenario's acceptance section; ``online`` (``update_interval``) replays
    the run with the simulator's distiller updating the draft between records (exclusive mode).
    """
    from osdsim.sim import load_scenario, simulate

    scenario = {
        "seed": seed, "target": target, "draft": draft, "hardware": hardware,
        "replicas": 1, "max_batch": 1, "gamma": int(gamma), "kv_tokens": 1e9, "context_bucket": 1,
        "workload": {"arrival": "replay", "domains": sorted(set(workload["domain"]))},
        "acceptance": dict(acceptance),
    }
    if online:
        scenario["online"] = {"update_interval": int(online["update_interval"]), "mode": "exclusive"}
    parsed = load_scenario(scenario)
    result = simulate(parsed, cost=cost, baseline=False, requests=workload)
    base = simulate(parsed.plain(), cost=cost, baseline=False, requests=workload)
    return {"requests": result.requests, "baseline_requests": base.requests, "summary": result.summary}


def replay_run(trace: Trace, cost, target: ModelSpec, draft: ModelSpec, *, hardware: str, records: str = "all",
               seed: int = 0, curves: dict | None = None) -> dict[str, Any]:
    """The run's ``records`` ("all", "even", "odd", "A:B") replayed through the simulator and
    compared with what was measured (:func:`compare`), ``online`` saying how.

    A static run draws acceptance from its trace's empirical counts; an online run (update lines)
    needs its learning ``curves`` and the ``update_interval`` of its meta line, and serves the whole
    stream so the draft learns from all of it."""
    from osdsim.trace.select import select_records
    from osdsim.validate.core import trace_gamma

    part = select_records(trace, records)
    gap = 10.0 * float(trace.records["latency_s"].max()) + 1.0
    online = None
    acceptance: dict[str, Any] = {"model": "empirical", "trace": str(Path(trace.path).resolve())}
    if len(trace.updates):
        interval = (trace.meta.get("online") or {}).get("update_interval")
        if not interval or curves is None:
            raise ValueError("--simulator replays an online run with its learning curves (<trace>.curves.json "
                             "or --curves) and the update_interval of its meta line")
        online = {"update_interval": int(interval)}
        acceptance = {"model": "learning_curve", "domains": dict(curves["domains"])}
    workload = workload_frame(trace.records if online else part.records, gap)
    sim = simulate_records(cost, target=target, draft=draft, hardware=hardware, workload=workload,
                           acceptance=acceptance, gamma=trace_gamma(trace), seed=seed, online=online)
    return compare(part.records, workload, sim) | {"online": bool(online)}


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
