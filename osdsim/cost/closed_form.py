"""Leviathan, Kalman & Matias (2023, arXiv 2211.17192) closed forms for speculative decoding.

All functions broadcast over numpy arrays (and accept plain floats), so a sweep is one call.
Notation (docs/reference.md): alpha = expected per-token acceptance, gamma = drafts per step,
c = draft forward time / target forward time.
"""

from __future__ import annotations

import numpy as np

_EPS = 1e-12


def _check_alpha(alpha):
    a = np.asarray(alpha, dtype=float)
    if np.any(~((a >= 0) & (a <= 1))):
        raise ValueError("alpha must be in [0, 1]")
    return a


def _check_gamma(gamma):
    g = np.asarray(gamma, dtype=float)
    if np.any(~(g >= 0)):
        raise ValueError("gamma must be >= 0")
    return g


def tau(alpha, gamma):
    """Expected tokens emitted per target step, (1 − α^(γ+1)) / (1 − α); γ+1 at α = 1.

    Leviathan et al. Eq. (1). The bonus token is counted (τ can reach γ+1, not γ).
    """
    a, g = _check_alpha(alpha), _check_gamma(gamma)
    near_one = np.abs(1.0 - a) < 1e-9
    safe = np.where(near_one, 0.5, a)
    out = np.where(near_one, g + 1.0, (1.0 - safe ** (g + 1.0)) / (1.0 - safe))
    return out if out.ndim else float(out)


def walltime_improvement(alpha, gamma, c):
    """Expected walltime improvement factor, τ / (γc + 1) (Leviathan et al. Theorem 3.8).

    Assumes a verify forward over γ+1 tokens costs one decode forward (memory-bound).
    """
    cc = np.asarray(c, dtype=float)
    if np.any(~(cc >= 0)):
        raise ValueError("c must be >= 0")
    g = _check_gamma(gamma)
    out = np.asarray(tau(alpha, g)) / (g * cc + 1.0)
    return out if out.ndim else float(out)


def extra_arithmetic(alpha, gamma, c_hat):
    """Expected factor of extra arithmetic operations (Leviathan et al. Theorem 3.11).

    (1 − α)(γĉ + γ + 1) / (1 − α^(γ+1)), ĉ = draft FLOPs / target FLOPs per token.
    """
    a, g = _check_alpha(alpha), _check_gamma(gamma)
    ch = np.asarray(c_hat, dtype=float)
    out = (g * ch + g + 1.0) / np.asarray(tau(a, g))
    return out if out.ndim else float(out)


def optimal_gamma(alpha, c, max_gamma: int = 32):
    """Best integer γ in [0, max_gamma] for walltime improvement, and that improvement.

    Integer search (Leviathan et al. Section 3.5 find it numerically). γ = 0 is plain decoding
    (improvement 1), the answer whenever α ≤ c makes speculation a loss. Broadcasts: returns
    arrays of the broadcast shape of alpha and c.
    """
    if int(max_gamma) < 0:
        raise ValueError("max_gamma must be >= 0")
    a = np.asarray(_check_alpha(alpha))
    cc = np.asarray(c, dtype=float)
    grid = np.arange(int(max_gamma) + 1, dtype=float).reshape((-1,) + (1,) * np.broadcast(a, cc).ndim)
    speed = np.asarray(walltime_improvement(a[None, ...], grid, cc[None, ...]))
    best = np.argmax(speed, axis=0)
    best_speed = np.take_along_axis(speed, best[None, ...], axis=0)[0]
    if best.ndim == 0:
        return int(best), float(best_speed)
    return best, best_speed


def min_improvement_bound(alpha, c):
    """Lower bound (1 + α)/(1 + c) on the best improvement when α > c (Leviathan Corollary 3.9)."""
    return (1.0 + np.asarray(alpha, dtype=float)) / (1.0 + np.asarray(c, dtype=float))
