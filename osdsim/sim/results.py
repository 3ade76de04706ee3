"""Result tables and the summary of one simulation.

``requests`` (one row per arrived request), ``steps`` (one row per iteration: prefill or
decode), ``updates`` (one row per draft update). Summary keys: docs/reference.md; latencies are
over finished requests, TPOT = (latency − TTFT) / (output tokens − 1) for outputs of 2+ tokens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# batch: sequences in the iteration's speculative step (0: a prefill-only iteration);
# prefill_seqs/prompt_tokens: prompts (or chunks of them) prefilled; tokens: all tokens emitted,
# first_tokens of them from prompts that completed; in_system: requests on the replica (queue,
# prefill, batch) when the iteration began.
STEP_COLUMNS = ("time_s", "replica", "batch", "prefill_seqs", "prompt_tokens", "in_system", "gamma",
                "tokens", "first_tokens", "accepted", "busy_s", "flops_used", "alpha", "stall_s", "updating")


@dataclass
class SimResult:
    """Per-request, per-step and per-update tables, and the summary."""

    requests: Any  # pandas.DataFrame
    steps: Any
    updates: Any
    summary: dict[str, Any]
    scenario: Any = field(repr=False, default=None)  # the Scenario that was run


UPDATE_COLUMNS = ("replica", "draft", "start_s", "end_s", "duration_s", "update_s", "num_tokens",
                  "records", "flops", "stall_s", "mode", "alpha_after")


def _pct(values: np.ndarray, q: float) -> float:
    values = values[~np.isnan(values)]
    return float(np.percentile(values, q)) if len(values) else math.nan


def _mean(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else math.nan


def _alpha_deciles(requests) -> list[float]:
    """α (accepted / (accepted + rejections)) of each tenth of the requests, in arrival order."""
    if not len(requests) or not requests["rejections"].sum() + requests["accepted"].sum():
        return []
    parts = np.array_split(np.arange(len(requests)), min(10, len(requests)))
    acc, rej = requests["accepted"].to_numpy(float), requests["rejections"].to_numpy(float)
    out = []
    for idx in parts:
        total = acc[idx].sum() + rej[idx].sum()
        out.append(float(acc[idx].sum() / total) if total else math.nan)
    return out


def request_frame(cl, lives, reqs, end_s: float):
    """``lives``: each replica's running batch at the end (``Replica.live``)."""
    import pandas as pd

    emitted = np.where(np.isnan(cl.finish_s), 0.0, cl.output)
    steps, accepted, rejected = cl.steps.copy(), cl.accepted.copy(), cl.rejected_steps.copy()
    for live in lives:  # sequences still running at the horizon
        ids = live["ids"]
        emitted[ids] = cl.output[ids] - live["remaining"]
        steps[ids] = live["steps"]
        accepted[ids], rejected[ids] = live["accepted"], live["rejected"]
    arrived = cl.arrival <= end_s
    latency = cl.finish_s - cl.arrival
    ttft = cl.first_token_s - cl.arrival
    with np.errstate(divide="ignore", invalid="ignore"):
        tpot = np.where(cl.output > 1, (cl.finish_s - cl.first_token_s) / (cl.output - 1), math.nan)
        mean_accepted = np.where(steps > 0, accepted / steps, math.nan)
        alpha = np.where(accepted + rejected > 0, accepted / (accepted + rejected), math.nan)
    frame = pd.DataFrame({
        "request": np.arange(len(reqs)),
        "arrival_s": cl.arrival,
        "domain": np.asarray(reqs.domains, dtype=object)[reqs.domain],
        "prompt_tokens": reqs.prompt_tokens,
        "output_tokens": reqs.output_tokens,
        "replica": cl.replica,
        "ttft_s": ttft,
        "tpot_s": tpot,
        "latency_s": latency,
        "steps": steps.astype(np.int64),
        "mean_accepted": mean_accepted,
        "alpha": alpha,
        "accepted": accepted.astype(np.int64),
        "rejections": rejected.astype(np.int64),
        "emitted_tokens": emitted.astype(np.int64),
        "finished": ~np.isnan(cl.finish_s),
        "dropped": cl.rejected,
    })
    return frame[arrived].reset_index(drop=True)


def summarise(requests, steps, updates, cl, num_replicas: int, end_s: float) -> dict:
    fin = requests[requests["finished"]]
    latency, ttft, tpot = (fin[c].to_numpy(float) for c in ("latency_s", "ttft_s", "tpot_s"))
    decode = steps[steps["batch"] > 0]
    tokens = float(requests["emitted_tokens"].sum())
    # α by maximum likelihood from what the steps saw: each step tries positions until the first
    # rejection, so α̂ = accepted / (accepted + rejections).
    accepted, rejected = float(requests["accepted"].sum()), float(requests["rejections"].sum())
    mean_alpha = accepted / (accepted + rejected) if accepted + rejected > 0 else math.nan
    slo = cl.scenario.slo
    ok = (fin["ttft_s"] <= slo.ttft_s) & ((fin["tpot_s"] <= slo.tpot_s) | fin["tpot_s"].isna())
    span = end_s if end_s > 0 else math.nan
    busy = float(steps["busy_s"].sum())
    if len(updates) and cl.online is not None and cl.online.mode == "exclusive":
        busy += float(updates["duration_s"].sum())
    capacity = cl.pricer.capacity
    batch_sum = float(decode["batch"].sum())
    return {
        "requests": int(len(requests)),
        "finished": int(requests["finished"].sum()),
        "unfinished": int((~requests["finished"]).sum()),
        "dropped": int(requests["dropped"].sum()),
        "sim_time_s": float(end_s),
        "throughput_tok_s": tokens / span,
        "throughput_req_s": len(fin) / span,
        "ttft_mean_s": _mean(ttft), "ttft_p50_s": _pct(ttft, 50), "ttft_p99_s": _pct(ttft, 99),
        "tpot_mean_s": _mean(tpot), "tpot_p50_s": _pct(tpot, 50), "tpot_p99_s": _pct(tpot, 99),
        "latency_mean_s": _mean(latency), "latency_p50_s": _pct(latency, 50),
        "latency_p99_s": _pct(latency, 99),
        "mean_tokens_per_step": (float(decode["tokens"].sum() - decode["first_tokens"].sum()) / batch_sum
                                 if batch_sum else math.nan),
        "mean_alpha": mean_alpha,
        "alpha_over_time": _alpha_deciles(requests),
        "mean_batch": batch_sum / len(decode) if len(decode) else math.nan,
        "mean_gamma": float(decode["gamma"].mean()) if len(decode) else math.nan,
        "goodput": float(fin.loc[ok, "output_tokens"].sum()) / span,
        "slo_attainment": float(ok.mean()) if len(fin) else math.nan,
        "utilisation": busy / (num_replicas * span),
        "flops_utilisation": float(steps["flops_used"].sum()) / (capacity * num_replicas * span),
        "steps": int(len(decode)),
        "prefills": int((steps["prefill_seqs"] > 0).sum()),
        "iterations": int(len(steps)),
        "updates": int(len(updates)),
        "update_stall_s": float(updates["stall_s"].sum()) if len(updates) else 0.0,
        "kv_capacity_tokens": float(cl.kv_capacity),
        "steady": steady_state(requests, steps),
        "assumptions": assumptions(cl),
    }


STEADY_QUANTILES = (10.0, 90.0)  # the steady window: between these percentiles of the arrival times


def steady_state(requests, steps) -> dict:
    """Latency and throughput over a steady-state window: requests that arrived between the 10th
    and 90th percentile of the arrival times (warm-up and drain excluded), and the tokens emitted
    by iterations that began in that window over its length."""
    arrival = requests["arrival_s"].to_numpy(float)
    if not len(arrival) or not np.isfinite(arrival).any():
        return {"window_s": [math.nan, math.nan], "requests": 0}
    lo, hi = (float(x) for x in np.nanpercentile(arrival, STEADY_QUANTILES))
    inside = requests[(arrival >= lo) & (arrival <= hi) & requests["finished"].to_numpy()]
    began = steps["time_s"].to_numpy(float)
    tokens = float(steps["tokens"].to_numpy(float)[(began >= lo) & (began < hi)].sum())
    return {"window_s": [lo, hi], "requests": int(len(inside)),
            "latency_mean_s": _mean(inside["latency_s"].to_numpy(float)),
            "ttft_mean_s": _mean(inside["ttft_s"].to_numpy(float)),
            "tpot_mean_s": _mean(inside["tpot_s"].to_numpy(float)),
            "throughput_tok_s": tokens / (hi - lo) if hi > lo else math.nan}


def assumptions(cl) -> dict:
    """What a summary's numbers assumed, stated beside them."""
    sc, w = cl.scenario, cl.scenario.workload
    a = sc.acceptance
    if cl.acceptance is None:
        acceptance = "none (plain decoding)"
    elif cl.acceptance_given:
        model = cl.acceptance
        acceptance = f"{type(model).__name__} given" + (f", alpha {model.alpha:g}" if hasattr(model, "alpha") else "")
    elif a.model == "constant":
        acceptance = f"constant alpha {a.alpha:g}" + (f", by domain {dict(a.by_domain)}" if a.by_domain else "")
    else:
        acceptance = a.model + (f" {a.curves or a.trace or ''}".rstrip() if (a.curves or a.trace) else "")
    if w.arrival == "replay":
        workload = f"replay of {w.file}"
    else:
        count = f"{w.num_requests} requests" if w.num_requests is not None else f"{w.duration_s:g} s"
        workload = f"{w.arrival} arrivals at {w.rate:g} req/s, {count}"
    if w.dataset is not None and w.arrival != "replay":
        workload += f", lengths from {w.dataset}" + (f" in {w.tokenizer} tokens" if w.tokenizer else "")
    def name(card):
        return getattr(card, "name", card)

    return {"framework": getattr(cl.pricer.cost, "framework_name", "none"), "hardware": name(sc.hardware),
            "target": name(sc.target), "draft": name(sc.draft) if cl.acceptance is not None else None, "tp": sc.tp,
            "draft_tp": sc.draft_tp, "dtype": sc.dtype, "acceptance": acceptance,
            "gamma_policy": _policy_text(cl),
            "method": sc.method,
            "workload": workload,
            "online": f"{cl.online.mode} updates every {cl.online.update_interval} records" if cl.online else None}


def _policy_text(cl) -> str:
    spec = cl.scenario.gamma_policy
    if cl.gamma_policy == "goodput":
        return "goodput"
    if spec is None or spec.kind == "fixed":
        return f"fixed {cl.gamma_policy}"
    detail = {"hf-heuristic": f"start {cl.gamma_policy}",
              "confidence": f"at most {cl.gamma_policy}, pass rate {spec.pass_rate:g}",
              "adaptive": f"at most {cl.gamma_policy}, threshold {spec.threshold:g}"}.get(spec.kind, "")
    return f"{spec.kind} ({detail})" if detail else spec.kind


# Types of each step column's values: integer, boolean, or float.
_STEP_KINDS = {"time_s": "f", "replica": "i", "batch": "i", "prefill_seqs": "i", "prompt_tokens": "i",
               "in_system": "i", "gamma": "i", "tokens": "f", "first_tokens": "i", "accepted": "f",
               "busy_s": "f", "flops_used": "f", "alpha": "f", "stall_s": "f", "updating": "b"}


def step_frame(flat):
    """The step rows (``flat``: float64 values, one row after another) as a DataFrame."""
    import pandas as pd

    if not len(flat):
        return pd.DataFrame({name: np.zeros(0, dtype={"i": np.int64, "b": bool, "f": float}[kind])
                             for name, kind in _STEP_KINDS.items()})
    table = np.frombuffer(flat, dtype=float).reshape(-1, len(STEP_COLUMNS))  # ints < 2^53: exact
    # Canonical row order (start time, then replica, stable): the same whether replicas ran in one
    # process or several, interleaved or one after another.
    table = table[np.lexsort((table[:, STEP_COLUMNS.index("replica")], table[:, 0]))]
    columns = {}
    for j, name in enumerate(STEP_COLUMNS):
        col, kind = table[:, j], _STEP_KINDS[name]
        columns[name] = col.astype(np.int64) if kind == "i" else col.astype(bool) if kind == "b" else col
    return pd.DataFrame(columns)


def assemble(cl, lives, reqs, end_s: float, num_replicas: int):
    import pandas as pd

    cl.flush_logs()
    requests = request_frame(cl, lives, reqs, end_s)
    steps = step_frame(cl.step_rows)
    phase = np.where(steps["batch"] > 0, np.where(steps["prefill_seqs"] > 0, "mixed", "decode"), "prefill")
    steps.insert(2, "phase", phase)
    # FLOPs the replica could have done in the iteration but did not (capacity × time − used).
    spare = np.maximum(0.0, cl.pricer.capacity * steps["busy_s"].to_numpy() - steps["flops_used"].to_numpy())
    steps.insert(steps.columns.get_loc("flops_used") + 1, "spare_flops", spare)
    updates = pd.DataFrame.from_records(cl.update_rows, columns=UPDATE_COLUMNS)
    updates = updates.sort_values(["start_s", "replica"], kind="stable", ignore_index=True)
    summary = summarise(requests, steps, updates, cl, num_replicas, end_s)
    return SimResult(requests, steps, updates, summary)
