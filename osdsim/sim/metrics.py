"""Service metrics of a simulation, from its request and step tables: latency percentiles (p50,
p90, p95, p99 of TTFT, TPOT, ITL and end-to-end latency) and whether the service kept up with
the offered load (served rate, queue growth).

Computed beside the summary (:func:`service_metrics` of a :class:`SimResult`), not inside it,
so the simulator's summary and its fingerprint stay as they are; ``osdsim plan``, ``osdsim
sweep`` and ``osdsim simulate --json`` add these keys to what they report.

- TTFT, TPOT and latency (end to end, alias ``e2e``) are per finished request, as in the summary.
- ITL (inter-token latency, as ``vllm bench serve`` measures it: the gap between two streamed
  chunks of one request; a speculative step streams all its tokens at once) is per (iteration,
  sequence): a sequence that was in the previous decode iteration of its replica waited from
  that iteration's end to this one's (prefills run in between lengthen it); one that joined
  since waited from the end of the previous iteration.
- Keeping up (:func:`keeping_up`): over the requests that arrived in the steady window (10th to
  90th percentile of arrival times), ``served_ratio`` = served / offered rate, from how fast
  their wait for a first token grows with their arrival time (1 when the service keeps pace),
  and ``queue_growth_req_s`` = offered − served rate, how fast the queue grows.
"""

from __future__ import annotations

import math

import numpy as np

PERCENTILES = (50, 90, 95, 99)
METRICS = ("ttft", "tpot", "itl", "latency")
ALIASES = {"e2e": "latency"}  # e2e_p99_s means latency_p99_s
STEADY = (10.0, 90.0)


def metric_keys() -> tuple[str, ...]:
    """Every latency key :func:`latency_percentiles` returns (``ttft_p90_s``, ``itl_mean_s``, ...)."""
    return tuple(f"{m}_{s}_s" for m in METRICS for s in ("mean", *(f"p{q}" for q in PERCENTILES)))


def canonical(key: str) -> str:
    """``e2e_p99_s`` → ``latency_p99_s``; other keys unchanged."""
    head, sep, tail = key.partition("_")
    return ALIASES.get(head, head) + sep + tail if sep else key


def _weighted_percentiles(values: np.ndarray, weights: np.ndarray, qs) -> list[float]:
    keep = np.isfinite(values) & (weights > 0)
    values, weights = values[keep], weights[keep]
    if not len(values):
        return [math.nan for _ in qs]
    order = np.argsort(values, kind="stable")
    values, cum = values[order], np.cumsum(weights[order])
    return [float(values[min(len(values) - 1, int(np.searchsorted(cum, q / 100.0 * cum[-1], "left")))])
            for q in qs]


def itl_samples(steps) -> tuple[np.ndarray, np.ndarray]:
    """(gap seconds, sequences) per decode iteration: the inter-token latencies the iteration's
    sequences saw, and how many saw each (see the module docstring)."""
    gaps, weights = [], []
    if not len(steps):
        return np.zeros(0), np.zeros(0)
    for _, part in steps.groupby("replica", sort=True):
        start = part["time_s"].to_numpy(float)
        end = start + part["busy_s"].to_numpy(float)
        batch = part["batch"].to_numpy(float)
        first = part["first_tokens"].to_numpy(float)
        prev_end = np.concatenate([[np.nan], end[:-1]])
        decode = np.flatnonzero(batch > 0)
        if not len(decode):
            continue
        # Sequences that joined since the previous decode iteration: the first tokens emitted by
        # the iterations from that one (it may have fused prefills) up to this one.
        cum_first = np.concatenate([[0.0], np.cumsum(first)])
        prev_decode = np.concatenate([[-1], decode[:-1]])
        joined = np.where(prev_decode >= 0, cum_first[decode] - cum_first[np.maximum(prev_decode, 0)],
                          batch[decode])
        joined = np.clip(joined, 0.0, batch[decode])
        old_gap = end[decode] - np.where(prev_decode >= 0, end[np.maximum(prev_decode, 0)], np.nan)
        new_gap = end[decode] - prev_end[decode]
        gaps += [old_gap, new_gap]
        weights += [batch[decode] - joined, joined]
    return np.concatenate(gaps), np.concatenate(weights)


def latency_percentiles(requests, steps) -> dict[str, float]:
    """Mean and p50/p90/p95/p99 of TTFT, TPOT, ITL and latency (keys of :func:`metric_keys`)."""
    fin = requests[requests["finished"]] if len(requests) else requests
    out: dict[str, float] = {}
    for metric in METRICS:
        if metric == "itl":
            values, weights = itl_samples(steps)
        else:
            values = fin[f"{metric}_s"].to_numpy(float) if len(fin) else np.zeros(0)
            weights = np.ones(len(values))
        keep = np.isfinite(values) & (weights > 0)
        mean = float(np.average(values[keep], weights=weights[keep])) if keep.any() else math.nan
        out[f"{metric}_mean_s"] = mean
        for q, v in zip(PERCENTILES, _weighted_percentiles(values, weights, PERCENTILES)):
            out[f"{metric}_p{q}_s"] = v
    return out


def keeping_up(requests) -> dict[str, float]:
    """Offered and served rate over the steady window, their ratio, and the queue's growth.

    A service that keeps up makes each request wait about as long as the one before; one that
    serves μ of λ requests/s makes the request arriving at t wait t·(λ/μ − 1) longer than the
    first (first come, first served). So the least-squares slope s of the time to first token
    over the arrival time, across the steady window, gives served/offered = 1 / (1 + s) — robust
    to short runs, unlike completions counted in a window (latencies as long as the window blur
    them). A request that never got its first token waits until the end of the run.
    """
    nan = {"offered_req_s": math.nan, "served_req_s": math.nan, "served_ratio": math.nan,
           "queue_growth_req_s": math.nan}
    if len(requests) < 4:
        return nan
    arrival = requests["arrival_s"].to_numpy(float)
    ttft = requests["ttft_s"].to_numpy(float)
    if np.isnan(ttft).any():  # never started: it has waited at least until the last first token
        last = np.nanmax(arrival + ttft) if np.isfinite(ttft).any() else np.nanmax(arrival)
        ttft = np.where(np.isnan(ttft), np.maximum(last - arrival, 0.0), ttft)
    lo, hi = np.percentile(arrival, STEADY)
    inside = (arrival >= lo) & (arrival <= hi)
    if hi <= lo or inside.sum() < 3:
        return nan
    offered = float(inside.sum() / (hi - lo))
    slope = max(0.0, float(np.polyfit(arrival[inside], ttft[inside], 1)[0]))
    ratio = 1.0 / (1.0 + slope)
    return {"offered_req_s": offered, "served_req_s": offered * ratio, "served_ratio": ratio,
            "queue_growth_req_s": offered * (1.0 - ratio)}


def service_metrics(result) -> dict[str, float]:
    """:func:`latency_percentiles` and :func:`keeping_up` of a :class:`SimResult`."""
    return {**latency_percentiles(result.requests, result.steps), **keeping_up(result.requests)}
