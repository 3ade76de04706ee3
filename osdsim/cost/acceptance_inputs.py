"""Acceptance as users have it, turned into what the closed forms need.

Tools and papers report acceptance in different ways; each maps onto per-position acceptance
(Leviathan et al. 2023, arXiv 2211.17192, Section 3.1: each draft accepted with probability α
until the first rejection):

- α, the per-token acceptance probability;
- τ, the mean accepted length per step *including* the bonus token (Spec-Bench's "#Mean
  Accepted Tokens", EAGLE's τ, vLLM V1's "Mean acceptance length" = 1 + accepted / drafts):
  τ = (1 − α^(γ+1)) / (1 − α), solved for α;
- an acceptance rate = accepted / drafted tokens. Its meaning depends on who counts: vLLM V1,
  llama.cpp (``accept = x%``) and transformers count the accepted *prefix*, so rate =
  (τ − 1) / γ; vLLM V0's "Draft acceptance rate" counts every position the rejection sampler
  accepted, also after a rejection, so rate ≈ α (vLLM V0 ``spec_decode/metrics.py``);
- per-position rates r_i = P(position i accepted) (vLLM V1 prints "Per-position acceptance
  rate"): conditional α_i = r_i / r_(i−1), τ = 1 + Σ r_i.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from osdsim.cost.closed_form import tau as tau_iid

RATE_KINDS = ("prefix", "position")
_BISECT_STEPS = 200


def _check_gamma(gamma) -> int:
    if isinstance(gamma, bool) or gamma != int(gamma) or gamma < 1:
        raise ValueError(f"gamma must be a positive integer to convert acceptance, got {gamma!r}")
    return int(gamma)


def alpha_from_tau(tau: float, gamma: int) -> float:
    """α such that (1 − α^(γ+1)) / (1 − α) = τ (τ counts the bonus token; 1 ≤ τ ≤ γ + 1)."""
    g = _check_gamma(gamma)
    t = float(tau)
    if not 1.0 <= t <= g + 1.0:
        raise ValueError(f"tau must be in [1, gamma + 1] = [1, {g + 1}] (it counts the bonus token), got {tau!r}")
    lo, hi = 0.0, 1.0
    for _ in range(_BISECT_STEPS):
        mid = 0.5 * (lo + hi)
        if tau_iid(mid, g) < t:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def alpha_from_rate(rate: float, gamma: int, kind: str = "prefix") -> float:
    """α from accepted / drafted tokens (``kind``: see the module docstring)."""
    r = float(rate)
    if not 0.0 <= r <= 1.0:
        raise ValueError(f"acceptance rate must be in [0, 1], got {rate!r}")
    if kind not in RATE_KINDS:
        raise ValueError(f"rate kind must be one of {', '.join(RATE_KINDS)}, got {kind!r}")
    if kind == "position":
        return r
    g = _check_gamma(gamma)
    return alpha_from_tau(1.0 + r * g, g)


def alpha_from_counts(accepted: float, drafted: float, gamma: int, kind: str = "prefix") -> float:
    """α from accepted and drafted token counts (e.g. vLLM's counters, llama.cpp's n_accept and
    n_drafted)."""
    if not drafted > 0 or not accepted >= 0 or accepted > drafted:
        raise ValueError(f"need 0 <= accepted <= drafted and drafted > 0, got {accepted!r} / {drafted!r}")
    return alpha_from_rate(accepted / drafted, gamma, kind)


def conditional_rates(per_position: Sequence[float]) -> list[float]:
    """Conditional α_i from unconditional per-position rates r_i (non-increasing, in [0, 1])."""
    rates, prev = [], 1.0
    for i, r in enumerate(per_position):
        r = float(r)
        if not 0.0 <= r <= 1.0 or r > prev + 1e-9:
            raise ValueError(f"per-position rate {i + 1} must be in [0, rate {i}] = [0, {prev:g}], got {r!r}")
        rates.append(r / prev if prev > 0 else 0.0)
        prev = r
    if not rates:
        raise ValueError("per-position acceptance needs at least one rate")
    return rates


def tau_positions(conditional: Sequence[float], gamma: int) -> float:
    """τ = 1 + Σ_{i ≤ γ} Π_{j ≤ i} α_j; positions beyond the list repeat its last α."""
    total, reach = 1.0, 1.0
    for i in range(int(gamma)):
        reach *= conditional[min(i, len(conditional) - 1)]
        total += reach
    return total


def alpha_from_positions(per_position: Sequence[float]) -> float:
    """The i.i.d. α with the same τ over the measured positions (γ = their count)."""
    cond = conditional_rates(per_position)
    return alpha_from_tau(tau_positions(cond, len(cond)), len(cond))


def clean(alpha: float) -> float:
    """α rounded off the bisection's last bits (a stable printout)."""
    return float(f"{alpha:.12g}") if math.isfinite(alpha) else alpha
