"""Acceptance by position: conditional per-position rates, and counts measured in a trace.

A step accepts draft i only if it accepted drafts 1..i−1, so per-position conditional rates α_i
give P(accepted = k) = α_1···α_k·(1 − α_(k+1)) and E[1 + accepted] = 1 + Σ_i α_1···α_i.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from osdsim.acceptance.protocol import DEFAULT_DOMAIN, check_prob


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


class PerPositionAcceptance:
    """Conditional acceptance α_i of draft position i given all earlier ones were accepted.

    Positions beyond the list reuse its last value (stated, not silent: a γ longer than the
    measured list extrapolates flat).
    """

    iid = False

    def __init__(self, alphas: Sequence[float]):
        if not len(alphas):
            raise ValueError("acceptance.alphas must list at least one probability")
        self.alphas = tuple(check_prob(a, f"acceptance.alphas[{i}]") for i, a in enumerate(alphas))
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
