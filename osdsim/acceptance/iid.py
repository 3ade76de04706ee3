"""i.i.d. acceptance: each draft accepted with probability α until the first rejection.

The accepted count is Geometric: P(accepted ≥ k) = α^k, capped at γ. It is drawn the way the
simulator's engine draws it, from one Exp(1) variate E per sequence: accepted = min(floor(E·s), γ)
with s = :func:`geometric_scale` (α) = −1/ln α, since P(floor(E·s) ≥ k) = P(E ≥ k/s) = e^(−k/s)
= α^k. τ, the expected tokens per step, is :func:`osdsim.cost.tau` (Leviathan et al. 2023, Eq. 1).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from osdsim.acceptance.protocol import DEFAULT_DOMAIN, check_prob
from osdsim.cost.closed_form import tau

ALWAYS = 1e300  # the scale at α ≥ 1: any positive Exp(1) draw times it exceeds every γ


def geometric_scale(alpha):
    """s = −1/ln α, so that floor(E·s) with E ~ Exp(1) is Geometric with P(≥ k) = α^k.

    0 for α ≤ 0 (nothing accepted) and :data:`ALWAYS` for α ≥ 1 (every draft accepted). A
    scalar gives a float; an array gives an array of the same shape.
    """
    if type(alpha) is not float and np.ndim(alpha):
        return np.array([geometric_scale(a) for a in np.ravel(alpha)]).reshape(np.shape(alpha))
    a = float(alpha)
    if a <= 0.0:
        return 0.0
    if a >= 1.0:
        return ALWAYS
    return -1.0 / math.log(a)


def sample_iid(rng: np.random.Generator, gamma: int, alpha, size: int) -> np.ndarray:
    """Accepted counts under i.i.d. acceptance, min(floor(E·s), γ) with E ~ Exp(1), vectorised.

    ``alpha`` is a scalar or an array of ``size`` per-sequence values. α = 1 accepts all γ.
    """
    if gamma <= 0:
        return np.zeros(size, dtype=np.int64)
    x = rng.standard_exponential(size) * geometric_scale(alpha)
    np.minimum(x, gamma, out=x)
    return x.astype(np.int64)  # x ≥ 0: the cast floors


def learning_curve_alpha(n, alpha0: float, alpha_inf: float, scale: float):
    """α(n) = α_∞ − (α_∞ − α_0)·exp(−n / scale): the learning curve of an online draft after n
    records of its domain (a float for scalar ``n``, an array for an array)."""
    if type(n) in (float, int) or np.ndim(n) == 0:  # math.exp: the simulator calls this per update
        return alpha_inf - (alpha_inf - alpha0) * math.exp(-float(n) / scale)
    return alpha_inf - (alpha_inf - alpha0) * np.exp(-np.asarray(n, dtype=float) / scale)


class ConstantAcceptance:
    """α per position, i.i.d.; optionally one α per domain (``by_domain``), ``alpha`` elsewhere."""

    iid = True

    def __init__(self, alpha: float, by_domain: Mapping[str, float] | None = None):
        self.alpha = check_prob(alpha, "acceptance.alpha")
        self.by_domain = {str(d): check_prob(a, f"acceptance.alpha.{d}") for d, a in (by_domain or {}).items()}

    def expected_alpha(self, domain=DEFAULT_DOMAIN, n_trained=0.0):
        return self.by_domain.get(domain, self.alpha)

    def expected_tokens(self, gamma, domain=DEFAULT_DOMAIN, n_trained=0.0):
        return float(tau(self.expected_alpha(domain), int(gamma)))

    def sample_many(self, rng, gamma, size, domain=DEFAULT_DOMAIN, n_trained=0.0):
        return sample_iid(rng, int(gamma), self.expected_alpha(domain), size)

    def sample_accepted(self, rng, gamma, domain=DEFAULT_DOMAIN, n_trained=0.0):
        return int(self.sample_many(rng, gamma, 1, domain)[0])


class LearningCurveAcceptance:
    """α(n) = α_∞ − (α_∞ − α_0)·exp(−n / scale) per domain, i.i.d. per position.

    ``curves`` is the dict written by real runs (``<trace>.curves.json``)::

        {"form": "exp", "unit": "records",
         "domains": {"<domain>": {"alpha0": f, "alpha_inf": f, "scale": f, "points": int}}}

    or a path to that JSON file. A domain not in the curves uses ``"default"`` if present.
    """

    iid = True

    def __init__(self, curves: Mapping | str | os.PathLike):
        if isinstance(curves, (str, os.PathLike)):
            try:
                curves = json.loads(Path(curves).read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise ValueError(f"acceptance.curves: cannot read {curves}: {exc}") from None
        if not isinstance(curves, Mapping):
            raise ValueError("acceptance.curves must be a mapping or a path to a JSON file")
        form, unit = curves.get("form", "exp"), curves.get("unit", "records")
        if form != "exp":
            raise ValueError(f"acceptance.curves.form must be 'exp', got {form!r}")
        if unit != "records":
            raise ValueError(f"acceptance.curves.unit must be 'records', got {unit!r}")
        domains = curves.get("domains")
        if not isinstance(domains, Mapping) or not domains:
            raise ValueError("acceptance.domains must map at least one domain to its curve")
        self.domains: dict[str, tuple[float, float, float]] = {}
        for dom, c in domains.items():
            where = f"acceptance.domains.{dom}"
            if not isinstance(c, Mapping):
                raise ValueError(f"{where} must be a mapping with alpha0, alpha_inf, scale")
            unknown = set(c) - {"alpha0", "alpha_inf", "scale", "points"}
            if unknown:
                raise ValueError(f"{where}.{sorted(unknown)[0]} is not a curve field")
            try:
                a0 = check_prob(c["alpha0"], f"{where}.alpha0")
                ainf = check_prob(c["alpha_inf"], f"{where}.alpha_inf")
                scale = float(c["scale"])
            except KeyError as exc:
                raise ValueError(f"{where}.{exc.args[0]} is missing") from None
            if not scale > 0:
                raise ValueError(f"{where}.scale must be positive, got {scale!r}")
            self.domains[str(dom)] = (a0, ainf, scale)

    def _curve(self, domain: str) -> tuple[float, float, float]:
        curve = self.domains.get(domain) or self.domains.get(DEFAULT_DOMAIN)
        if curve is None:
            raise ValueError(f"acceptance.domains has no curve for domain {domain!r}")
        return curve

    def expected_alpha(self, domain=DEFAULT_DOMAIN, n_trained=0.0):
        return learning_curve_alpha(float(n_trained), *self._curve(domain))

    def expected_tokens(self, gamma, domain=DEFAULT_DOMAIN, n_trained=0.0):
        return float(tau(self.expected_alpha(domain, n_trained), int(gamma)))

    def sample_many(self, rng, gamma, size, domain=DEFAULT_DOMAIN, n_trained=0.0):
        return sample_iid(rng, int(gamma), self.expected_alpha(domain, n_trained), size)

    def sample_accepted(self, rng, gamma, domain=DEFAULT_DOMAIN, n_trained=0.0):
        return int(self.sample_many(rng, gamma, 1, domain, n_trained)[0])
