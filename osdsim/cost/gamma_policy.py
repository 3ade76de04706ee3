"""Expected tokens and time per step under the γ policies frameworks use, i.i.d. or per-position
acceptance, batch 1 — closed forms the simulator's policies must agree with.

Acceptance is α (a float: every draft accepted with probability α until the first rejection) or
conditional per-position rates α_1, α_2, … (a sequence; positions beyond it repeat the last).

- ``fixed``: γ every step; E[tokens] = τ(γ) = 1 + Σ_{i≤γ} P(first i accepted) (Leviathan et
  al. 2023, Eq. 1, bonus token counted).
- ``hf-heuristic``: transformers' assisted generation (``num_assistant_tokens_schedule =
  "heuristic"``, ``generation/candidate_generator.py``, ``update_candidate_strategy``): after a
  step whose γ drafts were all accepted γ grows by 2, otherwise it shrinks by 1 (never below
  1). γ is a Markov chain; over a long generation the expected rate is the ratio of stationary
  means, Σ π(γ)τ(γ) / Σ π(γ)T(γ) (renewal-reward).
- ``confidence``: llama.cpp's ``--draft-p-min`` and transformers' ``assistant_confidence_threshold``
  stop drafting at the first draft token whose probability falls below p_min, at most γ. With
  each position passing the threshold with probability s (``pass_rate``) and a passed token
  accepted with probability α_p (``alpha_passed``, both i.i.d. over positions, measured from a
  run's per-token confidences), K drafts come out with P(K ≥ i) = s^i, τ = 1 + Σ_{i≤γ} (s·α_p)^i,
  and a step costs K + [K < γ] draft forwards (the failing token was computed) and a verify of
  K + 1 tokens: E[T] = Σ_k P(K = k) T(k).
- ``adaptive``: SpecDec++ (Huang et al. 2024, arXiv 2405.19715) stops drafting once the predicted
  chance that the whole draft so far is accepted falls below a threshold h; with the acceptance
  model as the predictor, γ = the largest i with Π_{j≤i} α_j ≥ h (at least 1, at most γ_max),
  re-chosen whenever α moves (an online draft's learning curve lengthens its drafts as it learns).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

GAMMA_CAP = 64  # the heuristic's γ is kept below this (transformers caps it only by max_new_tokens)
POLICIES = ("fixed", "hf-heuristic", "confidence", "adaptive")


def reach(acceptance, i: int) -> float:
    """P(the first i drafts are all accepted)."""
    if isinstance(acceptance, (int, float)):
        return float(acceptance) ** i
    out = 1.0
    for j in range(i):
        out *= acceptance[min(j, len(acceptance) - 1)]
    return out


def expected_tokens(acceptance, gamma: int) -> float:
    """E[tokens emitted by a step with γ drafts] = 1 + Σ_{i≤γ} P(first i accepted)."""
    return 1.0 + sum(reach(acceptance, i) for i in range(1, int(gamma) + 1))


def heuristic_stationary(acceptance, gamma_start: int = 5, cap: int = GAMMA_CAP) -> np.ndarray:
    """π(γ) for γ = 0..cap (π(0) = 0) of the hf-heuristic chain; γ_start only matters for the
    transient (the chain is irreducible on 1..cap)."""
    n = cap + 1
    p = np.zeros((n, n))
    for g in range(1, n):
        up = reach(acceptance, g)
        p[g, min(g + 2, cap)] += up
        p[g, max(g - 1, 1)] += 1.0 - up
    # π P = π, Σ π = 1 over states 1..cap: least squares on the stacked system.
    a = np.vstack([(p[1:, 1:] - np.eye(cap)).T, np.ones(cap)])
    b = np.zeros(cap + 1)
    b[-1] = 1.0
    pi = np.linalg.lstsq(a, b, rcond=None)[0]
    pi = np.clip(pi, 0.0, None)
    return np.concatenate([[0.0], pi / pi.sum()])


def confidence_drafts(pass_rate: float, gamma: int) -> np.ndarray:
    """P(K = k), k = 0..γ: drafts made before the first token below p_min (at most γ)."""
    s = float(pass_rate)
    p = np.array([s ** k * (1.0 - s) for k in range(int(gamma) + 1)])
    p[-1] = s ** int(gamma)
    return p


def adaptive_gamma(acceptance, threshold: float, max_gamma: int = 16) -> int:
    """SpecDec++'s stopping rule with the acceptance model as predictor (module docstring)."""
    g = 1
    while g < max_gamma and reach(acceptance, g + 1) >= threshold:
        g += 1
    return g


def policy_rate(acceptance, step_s: Callable[[int], float], policy: str = "fixed", gamma: int = 5,
                cap: int = GAMMA_CAP, *, pass_rate: float = 1.0, alpha_passed: float | None = None,
                threshold: float = 0.5, draft_forward_s: float = 0.0) -> tuple[float, float, float]:
    """(E[tokens per step], E[seconds per step], mean γ) under ``policy``; ``step_s(γ)`` prices a
    step with γ drafts (γ = 0 is plain decoding); ``gamma`` is the fixed γ, the heuristic's start
    or the confidence and adaptive policies' most drafts; ``draft_forward_s``: one draft forward
    (the confidence policy's extra one when it stops early)."""
    if policy == "fixed":
        return expected_tokens(acceptance, gamma), float(step_s(gamma)), float(gamma)
    if policy == "adaptive":
        g = adaptive_gamma(acceptance, threshold, gamma)
        return expected_tokens(acceptance, g), float(step_s(g)), float(g)
    if policy == "confidence":
        a = float(acceptance) if alpha_passed is None else float(alpha_passed)
        pk = confidence_drafts(pass_rate, gamma)
        tokens = 1.0 + sum((pass_rate * a) ** i for i in range(1, int(gamma) + 1))
        seconds = sum(p * (step_s(k) + (draft_forward_s if k < gamma else 0.0)) for k, p in enumerate(pk))
        return float(tokens), float(seconds), float(pk @ np.arange(len(pk)))
    if policy != "hf-heuristic":
        raise ValueError(f"gamma policy must be one of {', '.join(POLICIES)}, got {policy!r}")
    pi = heuristic_stationary(acceptance, gamma, cap)
    live = np.flatnonzero(pi > 1e-12)
    tokens = sum(pi[g] * expected_tokens(acceptance, g) for g in live)
    seconds = sum(pi[g] * float(step_s(int(g))) for g in live)
    return float(tokens), float(seconds), float(pi @ np.arange(cap + 1))


def best_fixed_gamma(acceptance, step_s: Callable[[int], float], max_gamma: int = 16) -> tuple[int, float]:
    """The fixed γ in 0..max_gamma with the most tokens per second, and that rate."""
    rates = [expected_tokens(acceptance, g) / step_s(g) for g in range(max_gamma + 1)]
    best = int(np.argmax(rates))
    return best, float(rates[best])


def as_acceptance(alpha: float | None = None, rates: Sequence[float] | None = None):
    """α or conditional per-position rates, checked: exactly one of them."""
    if (alpha is None) == (rates is None):
        raise ValueError("give exactly one of alpha and per-position rates")
    if rates is not None:
        rates = tuple(float(r) for r in rates)
        if not rates or any(not 0.0 <= r <= 1.0 for r in rates):
            raise ValueError("per-position rates must be probabilities in [0, 1]")
        return rates
    a = float(alpha)
    if not 0.0 <= a <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    return a


def alpha_for_tokens(tokens: float, policy: str = "fixed", gamma: int = 5) -> float:
    """The i.i.d. α whose expected tokens per step under ``policy`` (γ fixed, or the heuristic's
    start) is ``tokens`` — τ as Spec-Bench and vLLM report it, bonus token included."""
    def mean_tokens(a: float) -> float:
        return policy_rate(a, lambda g: 1.0, policy, gamma)[0]

    t = float(tokens)
    top = mean_tokens(1.0)
    if not 1.0 <= t <= top:
        raise ValueError(f"tau must be in [1, {top:g}] for the {policy} policy with gamma {gamma} (it counts "
                         f"the bonus token), got {tokens!r}")
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if mean_tokens(mid) < t else (lo, mid)
    return 0.5 * (lo + hi)
