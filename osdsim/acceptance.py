"""Acceptance models: how many of γ drafted tokens the target accepts in one speculative step.

One protocol, four models (DESIGN.md notation: ``alpha`` = α, ``gamma`` = γ):

- :class:`ConstantAcceptance` — each draft accepted with probability α, i.i.d., until the first
  rejection (Leviathan et al. 2023, Section 3.1): accepted ~ min(Geometric(1 − α) − 1, γ).
- :class:`PerPositionAcceptance` — α_i = P(accept position i | positions 1..i−1 accepted).
- :class:`EmpiricalAcceptance` — accepted-count distributions per domain and γ measured in a trace.
- :class:`LearningCurveAcceptance` — an online draft: α(n) = α_∞ − (α_∞ − α_0)·exp(−n / scale),
  n = records of that domain the draft has been trained on (what real runs fit and store as a
  ``<trace>.curves.json`` sidecar).

Every model answers ``expected_alpha``, ``expected_tokens`` (E[1 + accepted], the bonus token
counted) and samples with an explicit :class:`numpy.random.Generator`; nothing here holds state
about training progress — the caller passes ``n_trained``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

DEFAULT_DOMAIN = "default"


@runtime_checkable
class AcceptanceModel(Protocol):
    """What the simulator, sweeps and the validator need from an acceptance model."""

    def expected_alpha(self, domain: str = DEFAULT_DOMAIN, n_trained: float = 0.0) -> float:
        """Mean per-position acceptance probability α for ``domain`` after ``n_trained`` records."""

    def expected_tokens(self, gamma: int, domain: str = DEFAULT_DOMAIN, n_trained: float = 0.0) -> float:
        """E[1 + accepted] tokens emitted per step with ``gamma`` drafts (τ for i.i.d. models)."""

    def sample_accepted(self, rng: np.random.Generator, gamma: int, domain: str = DEFAULT_DOMAIN,
                        n_trained: float = 0.0) -> int:
        """One step's accepted drafts, an integer in 0..gamma."""

    def sample_many(self, rng: np.random.Generator, gamma: int, size: int, domain: str = DEFAULT_DOMAIN,
                    n_trained: float = 0.0) -> np.ndarray:
        """``size`` independent accepted counts (int64 array) for one domain."""


def _check_prob(value, name: str) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return value


def sample_iid(rng: np.random.Generator, gamma: int, alpha, size: int) -> np.ndarray:
    """Accepted counts under i.i.d. acceptance: min(Geometric(1 − α) − 1, γ), vectorised.

    ``alpha`` is a scalar or an array of ``size`` per-sequence values. α = 1 accepts all γ.
    """
    if gamma <= 0:
        return np.zeros(size, dtype=np.int64)
    p = np.maximum(1.0 - np.asarray(alpha, dtype=float), 1e-12)  # α = 1: the cap γ applies
    accepted = rng.geometric(p, size=size) - 1
    np.minimum(accepted, gamma, out=accepted)
    return accepted


def tau_iid(alpha: float, gamma: int) -> float:
    """τ = (1 − α^(γ+1)) / (1 − α); γ + 1 at α = 1 (Leviathan et al. Eq. 1)."""
    if alpha >= 1.0 - 1e-12:
        return gamma + 1.0
    return (1.0 - alpha ** (gamma + 1)) / (1.0 - alpha)


def _tau_positions(rates: Sequence[float]) -> float:
    # E[1 + accepted] = 1 + Σ_i P(accepted ≥ i) = 1 + Σ_i Π_{j≤i} α_j.
    total, reach = 1.0, 1.0
    for a in rates:
        reach *= a
        total += reach
    return total


def _distribution(rates: Sequence[float]) -> np.ndarray:
    """P(accepted = k), k = 0..len(rates), from conditional per-position acceptance rates."""
    probs, reach = [], 1.0
    for a in rates:
        probs.append(reach * (1.0 - a))
        reach *= a
    probs.append(reach)
    return np.asarray(probs)


class ConstantAcceptance:
    """α per position, i.i.d.; optionally one α per domain (``by_domain``), ``alpha`` elsewhere."""

    iid = True

    def __init__(self, alpha: float, by_domain: Mapping[str, float] | None = None):
        self.alpha = _check_prob(alpha, "acceptance.alpha")
        self.by_domain = {str(d): _check_prob(a, f"acceptance.alpha.{d}") for d, a in (by_domain or {}).items()}

    def expected_alpha(self, domain=DEFAULT_DOMAIN, n_trained=0.0):
        return self.by_domain.get(domain, self.alpha)

    def expected_tokens(self, gamma, domain=DEFAULT_DOMAIN, n_trained=0.0):
        return tau_iid(self.expected_alpha(domain), int(gamma))

    def sample_many(self, rng, gamma, size, domain=DEFAULT_DOMAIN, n_trained=0.0):
        return sample_iid(rng, int(gamma), self.expected_alpha(domain), size)

    def sample_accepted(self, rng, gamma, domain=DEFAULT_DOMAIN, n_trained=0.0):
        return int(self.sample_many(rng, gamma, 1, domain)[0])


class PerPositionAcceptance:
    """Conditional acceptance α_i of draft position i given all earlier ones were accepted.

    Positions beyond the list reuse its last value (stated, not silent: a γ longer than the
    measured list extrapolates flat).
    """

    iid = False

    def __init__(self, alphas: Sequence[float]):
        if not len(alphas):
            raise ValueError("acceptance.alphas must list at least one probability")
        self.alphas = tuple(_check_prob(a, f"acceptance.alphas[{i}]") for i, a in enumerate(alphas))
        self._cdf: dict[int, np.ndarray] = {}

    def rates(self, gamma: int) -> list[float]:
        return [self.alphas[min(i, len(self.alphas) - 1)] for i in range(int(gamma))]

    def expected_alpha(self, domain=DEFAULT_DOMAIN, n_trained=0.0):
        return float(np.mean(self.alphas))

    def expected_tokens(self, gamma, domain=DEFAULT_DOMAIN, n_trained=0.0):
        return _tau_positions(self.rates(gamma))

    def sample_many(self, rng, gamma, size, domain=DEFAULT_DOMAIN, n_trained=0.0):
        cdf = self._cdf.get(gamma)
        if cdf is None:
            cdf = self._cdf[gamma] = np.cumsum(_distribution(self.rates(gamma)))
        return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), gamma).astype(np.int64)

    def sample_accepted(self, rng, gamma, domain=DEFAULT_DOMAIN, n_trained=0.0):
        return int(self.sample_many(rng, gamma, 1, domain)[0])


class EmpiricalAcceptance:
    """Accepted-count distributions measured per domain and γ (trace step rows).

    Built from a DataFrame with columns ``domain``, ``gamma``, ``accepted``. For a (domain, γ)
    in the data it resamples the measured counts' distribution exactly; for a γ not in the data
    it estimates per-position rates from all of that domain's rows (position i is "reached" by
    every step with accepted ≥ i − 1 and γ ≥ i) and recomposes them. A domain absent from the
    data uses the rows of all domains pooled.
    """

    iid = False

    def __init__(self, frame):
        missing = {"domain", "gamma", "accepted"} - set(frame.columns)
        if missing:
            raise ValueError(f"acceptance.trace: step rows lack column(s) {', '.join(sorted(missing))}")
        if not len(frame):
            raise ValueError("acceptance.trace: no step rows to build an empirical model from")
        g = frame["gamma"].to_numpy(dtype=np.int64)
        acc = frame["accepted"].to_numpy(dtype=np.int64)
        if np.any(acc < 0) or np.any(acc > g):
            raise ValueError("acceptance.trace: accepted must lie in 0..gamma on every row")
        doms = frame["domain"].astype(str).to_numpy()
        self._counts: dict[tuple[str, int], np.ndarray] = {}
        self._rates: dict[str, list[float]] = {}
        for dom in [*sorted(set(doms)), None]:
            mask = np.ones(len(doms), bool) if dom is None else doms == dom
            self._rates[dom] = self._position_rates(g[mask], acc[mask])
            for gamma in np.unique(g[mask]):
                sel = acc[mask & (g == gamma)]
                self._counts[(dom, int(gamma))] = np.bincount(sel, minlength=gamma + 1) / len(sel)
        self._cdf: dict[tuple[str | None, int], np.ndarray] = {}

    @classmethod
    def from_trace(cls, path: str | os.PathLike) -> EmpiricalAcceptance:
        """Read a trace; step rows get their domain from the record rows (``record`` column)."""
        from osdsim.trace.io import read_trace

        trace = read_trace(path)
        steps = trace.steps
        if "domain" not in steps.columns and len(trace.records) and "domain" in trace.records.columns:
            steps = steps.merge(trace.records[["record", "domain"]], on="record", how="left")
        if "domain" not in steps.columns:
            steps = steps.assign(domain=DEFAULT_DOMAIN)
        return cls(steps.fillna({"domain": DEFAULT_DOMAIN}))

    @staticmethod
    def _position_rates(g: np.ndarray, acc: np.ndarray) -> list[float]:
        rates = []
        for i in range(1, int(g.max()) + 1):
            reached = np.count_nonzero((acc >= i - 1) & (g >= i))
            passed = np.count_nonzero(acc >= i)
            rates.append(passed / reached if reached else (rates[-1] if rates else 0.0))
        return rates

    def _key(self, domain: str) -> str | None:
        return domain if domain in self._rates else None

    def rates(self, gamma: int, domain: str = DEFAULT_DOMAIN) -> list[float]:
        known = self._rates[self._key(domain)] or [0.0]
        return [known[min(i, len(known) - 1)] for i in range(int(gamma))]

    def distribution(self, gamma: int, domain: str = DEFAULT_DOMAIN) -> np.ndarray:
        """P(accepted = k), k = 0..gamma."""
        measured = self._counts.get((self._key(domain), int(gamma)))
        return measured if measured is not None else _distribution(self.rates(gamma, domain))

    def expected_alpha(self, domain=DEFAULT_DOMAIN, n_trained=0.0):
        # Pooled per-position acceptance: accepted / (accepted + rejections), the MLE under i.i.d.
        rates = self._rates[self._key(domain)]
        return float(np.mean(rates)) if rates else 0.0

    def expected_tokens(self, gamma, domain=DEFAULT_DOMAIN, n_trained=0.0):
        return float(1.0 + np.arange(gamma + 1) @ self.distribution(gamma, domain))

    def sample_many(self, rng, gamma, size, domain=DEFAULT_DOMAIN, n_trained=0.0):
        key = (self._key(domain), int(gamma))
        cdf = self._cdf.get(key)
        if cdf is None:
            cdf = self._cdf[key] = np.cumsum(self.distribution(gamma, domain))
        return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), gamma).astype(np.int64)

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
                a0 = _check_prob(c["alpha0"], f"{where}.alpha0")
                ainf = _check_prob(c["alpha_inf"], f"{where}.alpha_inf")
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
        a0, ainf, scale = self._curve(domain)
        return ainf - (ainf - a0) * math.exp(-float(n_trained) / scale)

    def expected_tokens(self, gamma, domain=DEFAULT_DOMAIN, n_trained=0.0):
        return tau_iid(self.expected_alpha(domain, n_trained), int(gamma))

    def sample_many(self, rng, gamma, size, domain=DEFAULT_DOMAIN, n_trained=0.0):
        return sample_iid(rng, int(gamma), self.expected_alpha(domain, n_trained), size)

    def sample_accepted(self, rng, gamma, domain=DEFAULT_DOMAIN, n_trained=0.0):
        return int(self.sample_many(rng, gamma, 1, domain, n_trained)[0])
