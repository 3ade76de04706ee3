"""What an imported log says about speculative decoding: Leviathan's α, τ, and what-if speedups.

Logs report acceptance in their own terms (``ALPHA_DEFINITIONS``): vLLM and llama.cpp print
accepted / drafted tokens, which is not Leviathan's α (the per-token acceptance probability).
From the counts, τ = emitted tokens / target steps (the mean acceptance length), and
Leviathan's α is the root of τ(α, γ) = (1 − α^(γ+1)) / (1 − α) (Leviathan et al. 2023, Eq. 1).
Per-position rates r_i = P(positions 1..i accepted) give conditional rates α_i = r_i / r_(i−1).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from osdsim.cost.closed_form import optimal_gamma, tau, walltime_improvement


def alpha_from_tau(tau_value: float, gamma: int) -> float:
    """Leviathan's α whose τ(α, γ) equals ``tau_value`` (clipped to [0, 1] at τ ≤ 1 or ≥ γ+1)."""
    from scipy.optimize import brentq

    if gamma < 1:
        raise ValueError("gamma must be >= 1 to derive alpha from a mean acceptance length")
    if not np.isfinite(tau_value):
        raise ValueError("mean acceptance length must be finite")
    if tau_value <= 1.0:
        return 0.0
    if tau_value >= gamma + 1.0:
        return 1.0
    return float(brentq(lambda a: tau(a, gamma) - tau_value, 0.0, 1.0 - 1e-12, xtol=1e-12))


def _total(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [r.get(key) for r in rows]
    if any(v is None for v in values):
        return None
    return float(sum(values))


def _per_position(rows: list[dict[str, Any]]) -> list[float] | None:
    weighted, weights = None, 0.0
    for r in rows:
        pp, n = r.get("per_position"), r.get("num_drafts")
        if not pp or not n:
            continue
        arr = np.asarray(pp, dtype=float)
        if weighted is None:
            weighted = np.zeros_like(arr)
        if len(arr) != len(weighted):
            return None  # γ changed between rows: no single profile
        weighted += arr * n
        weights += n
    return None if weighted is None or weights == 0 else (weighted / weights).tolist()


def summarize(rows: list[dict[str, Any]], gamma: int | None = None) -> dict[str, Any]:
    """Totals and derived acceptance of aggregate ``rows`` of one format (dicts as imported).

    Returns drafted/accepted/emitted/num_drafts totals, ``source_acceptance_rate``
    (accepted / drafted), ``tau`` (emitted / drafts), ``gamma`` and Leviathan's ``alpha``;
    per-position rates and conditional rates where the source gives them. Values are None
    where the log does not carry what they need.
    """
    gammas = Counter(int(r["gamma"]) for r in rows if r.get("gamma"))
    gamma = gamma or (gammas.most_common(1)[0][0] if gammas else None)
    drafted, accepted = _total(rows, "drafted"), _total(rows, "accepted")
    known = [r for r in rows if r.get("num_drafts") is not None and r.get("emitted") is not None]
    drafts = sum(float(r["num_drafts"]) for r in known)
    emitted = sum(float(r["emitted"]) for r in known)
    out: dict[str, Any] = {"rows": len(rows), "drafted": drafted, "accepted": accepted,
                           "emitted": emitted if known else None, "num_drafts": drafts if known else None,
                           "rows_with_step_counts": len(known), "gamma": gamma,
                           "source_acceptance_rate": accepted / drafted if drafted else None,
                           "tau": emitted / drafts if drafts else None, "alpha": None}
    if out["tau"] is not None and gamma:
        out["alpha"] = alpha_from_tau(out["tau"], gamma)
    pp = _per_position(rows)
    if pp:
        prev = [1.0, *pp[:-1]]
        out["per_position"] = pp
        out["alpha_per_position"] = [r / p if p > 0 else None for r, p in zip(pp, prev)]
    if len(gammas) > 1:
        out["gammas_seen"] = dict(gammas)
    return out


def what_if(alpha: float, gamma: int, c: float, gammas=(), alphas=()) -> dict[str, Any]:
    """Closed-form speedups (Leviathan Theorem 3.8) now and for other γ or α at the same c."""
    best_gamma, best_speedup = optimal_gamma(alpha, c)
    return {
        "c": c, "speedup": walltime_improvement(alpha, gamma, c),
        "optimal_gamma": best_gamma, "optimal_speedup": best_speedup,
        "gamma_what_if": [{"gamma": int(g), "tau": tau(alpha, g), "speedup": walltime_improvement(alpha, g, c)}
                          for g in gammas],
        "alpha_what_if": [{"alpha": float(a), "tau": tau(a, gamma), "speedup": walltime_improvement(a, gamma, c)}
                          for a in alphas],
    }


def c_for(target, draft, hardware, batch: int = 1, context: int = 512) -> float:
    """c = draft / target decode-forward time on the card (roofline with the card's overheads)."""
    from osdsim.cost.step import c_from_cards

    return float(c_from_cards(target, draft, hardware, batch=batch, context=context))


def analyse(aggregates: list[dict[str, Any]], *, c: float | None = None, gammas=(), alphas=()) -> dict[str, Any]:
    """Per-format summaries, the overall one, and (given c) what-if speedups for the overall α."""
    by_format: dict[str, list[dict[str, Any]]] = {}
    for row in aggregates:
        by_format.setdefault(str(row.get("format", "?")), []).append(row)
    result: dict[str, Any] = {"formats": {f: summarize(rows) for f, rows in by_format.items()}}
    overall = summarize(aggregates)
    result["overall"] = overall
    if c is not None and overall["alpha"] is not None and overall["gamma"]:
        result["prediction"] = what_if(overall["alpha"], overall["gamma"], c, gammas, alphas)
    return result


def roofline_what_if(alpha: float, gamma: int, target, draft, hardware, batch: int = 1, context: int = 512,
                     gammas=(), alphas=(), framework=None) -> dict[str, Any]:
    """Batch-aware speedups from the cards' roofline: the verify over γ+1 tokens per sequence is
    priced at ``batch`` (``osdsim.cost.step.spec_speedup``), so a large batch that turns the
    verify compute-bound shows up, which the closed form (verify = one decode) cannot see."""
    from osdsim.cost.step import spec_speedup

    def one(a, g):
        return float(spec_speedup(a, target, draft, hardware, batch, g, context, framework=framework))

    return {"batch": batch, "context": context, "framework": framework, "speedup": one(alpha, gamma),
            "gamma_what_if": [{"gamma": int(g), "speedup": one(alpha, int(g))} for g in gammas],
            "alpha_what_if": [{"alpha": float(a), "speedup": one(float(a), gamma)} for a in alphas]}


def throughput_check(rows: list[dict[str, Any]], cost, target, draft, context: int = 512) -> dict[str, Any] | None:
    """The cost model's generation throughput for each logged interval, against the logged one.

    vLLM prints, with each interval's speculative counts, the engine's generation and prompt
    throughput and the requests running at that moment (``trace.importers.vllm``). For an
    interval with batch B = running, γ and τ = emitted / drafts, the engine decodes
    B·τ tokens per step of γ draft forwards plus one verify over γ+1 tokens per sequence, all at
    ``context`` tokens of context, priced by ``cost`` (any CostModel: a calibrated card's table or
    the roofline). The share of each second spent on prefill (prompt tokens/s × the per-token
    cost of a ``context``-token prefill) is taken off. ``running`` is a snapshot at logging time,
    not the interval's mean, so expect scatter where the batch swings; the median error over
    many intervals is what says whether the card fits the GPU. None without such intervals.
    """
    from osdsim.validate.report import error_stats

    points = []
    prefill_per_token = cost.forward_s(target, 1, context, 0) / context
    for r in rows:
        batch, measured, gamma = r.get("running"), r.get("gen_tok_s"), r.get("gamma")
        drafts, emitted = r.get("num_drafts"), r.get("emitted")
        if not batch or not measured or not gamma or not drafts or emitted is None:
            continue
        tau_row = float(emitted) / float(drafts)
        step_s = (gamma * cost.forward_s(draft, batch, 1, context)
                  + cost.forward_s(target, batch, gamma + 1, context))
        prefill_share = min(1.0, float(r.get("prompt_tok_s") or 0.0) * prefill_per_token)
        points.append({"line": r.get("line"), "running": int(batch), "gamma": int(gamma), "tau": tau_row,
                       "step_s": step_s, "prefill_share": prefill_share, "measured_tok_s": float(measured),
                       "predicted_tok_s": batch * tau_row / step_s * (1.0 - prefill_share)})
    if not points:
        return None
    pred = [p["predicted_tok_s"] for p in points]
    meas = [p["measured_tok_s"] for p in points]
    return {"context": context, "intervals": points, "error": error_stats(pred, meas),
            "measured_median_tok_s": float(np.median(meas)), "predicted_median_tok_s": float(np.median(pred))}


# The serving framework an imported log's format implies (its card in osdsim/cards/framework).
FORMAT_FRAMEWORKS = {"vllm-v0": "vllm-v0", "vllm-v1": "vllm-v1", "vllm-prometheus": "vllm-v1",
                     "llamacpp-server": "llama.cpp-gpu", "llamacpp-speculative": "llama.cpp-gpu"}


def implied_framework(rows) -> str | None:
    """The framework card the rows' log format implies (the most common one), or None."""
    counts: dict[str, int] = {}
    for row in rows:
        name = FORMAT_FRAMEWORKS.get(str(row.get("format")))
        if name:
            counts[name] = counts.get(name, 0) + 1
    return max(counts, key=counts.get) if counts else None
