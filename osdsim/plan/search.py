"""Service-level objectives and the monotone search for the fewest replicas that meet one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from osdsim.sim.metrics import canonical, metric_keys

# Summary keys an SLO may bound (all in seconds, lower is better): mean, p50, p90, p95 and p99 of
# TTFT, TPOT, ITL and end-to-end latency (``latency_*``, also written ``e2e_*``), as
# osdsim.sim.metrics computes them for every evaluation of the plan.
SLO_KEYS = metric_keys()
RATE_TOLERANCE = 0.05  # served rate at least 95% of the offered one; the queue grows by at most 5% of it


@dataclass(frozen=True)
class SLO:
    """Upper bounds on summary percentiles, e.g. {"tpot_p99_s": 0.05}; all must hold, and the
    service must keep up with the offered load.

    ``min_finished`` is the fraction of requests that must finish; ``rate_tolerance`` bounds how
    far the served rate may fall below the offered one (``served_ratio`` >= 1 - tolerance) and how
    fast the queue may grow (``queue_growth_req_s`` <= tolerance x offered rate). A queue that
    grows without bound can still show a fine TPOT: its requests wait before they start.
    """

    bounds: dict[str, float]
    min_finished: float = 0.999
    rate_tolerance: float = RATE_TOLERANCE

    def __post_init__(self):
        if not self.bounds:
            raise ValueError("an SLO needs at least one bound, e.g. tpot_p99_s=0.05")
        for key, value in self.bounds.items():
            if key not in SLO_KEYS:
                raise ValueError(f"SLO key {key!r} is not one of {', '.join(SLO_KEYS)} (e2e_* means latency_*)")
            if not value > 0:
                raise ValueError(f"SLO bound {key} must be positive, got {value!r}")
        if not 0 <= self.rate_tolerance < 1:
            raise ValueError(f"the rate tolerance must be in [0, 1), got {self.rate_tolerance!r}")

    def violations(self, summary: dict) -> list[str]:
        """Why ``summary`` misses the SLO (empty when it meets it), one phrase per reason."""
        out = []
        requests = summary.get("requests") or 0
        finished = summary.get("finished") or 0
        if requests and finished / requests < self.min_finished:
            out.append(f"{requests - finished} of {requests} requests unfinished")
        if summary.get("dropped"):
            out.append(f"{summary['dropped']} requests dropped (never fit the KV cache)")
        ratio, offered = summary.get("served_ratio"), summary.get("offered_req_s")
        if ratio is not None and ratio == ratio and ratio < 1 - self.rate_tolerance:
            out.append(f"served {ratio * offered:.3g} of {offered:.3g} req/s offered" if offered
                       else f"served {ratio:.0%} of the offered rate")
        growth = summary.get("queue_growth_req_s")
        behind = ratio is not None and ratio == ratio and ratio < 1 - self.rate_tolerance
        if growth is not None and growth == growth and offered and growth > self.rate_tolerance * offered:
            if behind:
                out[-1] += f", queue grows {growth:.3g} req/s"
            else:
                out.append(f"queue grows {growth:.3g} req/s ({growth / offered:.0%} of the offered rate)")
        for key, bound in self.bounds.items():
            value = summary.get(key)
            if value is None or value != value:
                out.append(f"no {key} in the summary")
            elif not value <= bound:
                out.append(f"{key} {value:.3g} > {bound:g}")
        return out

    def met_by(self, summary: dict) -> bool:
        return not self.violations(summary)


def parse_slo(items: list[str], rate_tolerance: float = RATE_TOLERANCE) -> SLO:
    """``["tpot_p99_s=0.05", "ttft_p99_s=2"]`` → SLO (``e2e_p99_s`` is ``latency_p99_s``)."""
    bounds = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"SLO {item!r} must look like tpot_p99_s=0.05")
        try:
            bounds[canonical(key.strip())] = float(value)
        except ValueError:
            raise ValueError(f"SLO {item!r}: {value!r} is not a number") from None
    return SLO(bounds, rate_tolerance=rate_tolerance)


def min_replicas(meets: Callable[[int], bool], max_replicas: int = 256) -> int | None:
    """Fewest n in [1, max_replicas] with ``meets(n)``, assuming more replicas never hurt.

    Doubles until the SLO holds, then bisects: O(log n) evaluations. None if even
    ``max_replicas`` misses it.
    """
    if max_replicas < 1:
        raise ValueError("max_replicas must be >= 1")
    cache: dict[int, bool] = {}

    def ok(n: int) -> bool:
        if n not in cache:
            cache[n] = bool(meets(n))
        return cache[n]

    hi = 1
    while not ok(hi):
        if hi >= max_replicas:
            return None
        hi = min(2 * hi, max_replicas)
    lo = hi // 2  # ok(lo) is False (or lo == 0)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi
