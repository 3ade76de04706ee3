"""Service-level objectives and the monotone search for the fewest replicas that meet one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# Summary keys an SLO may bound (all in seconds, lower is better).
SLO_KEYS = ("ttft_p50_s", "ttft_p90_s", "ttft_p99_s", "tpot_p50_s", "tpot_p90_s", "tpot_p99_s",
            "latency_p50_s", "latency_p90_s", "latency_p99_s")


@dataclass(frozen=True)
class SLO:
    """Upper bounds on summary percentiles, e.g. {"tpot_p99_s": 0.05}; all must hold.

    ``min_finished`` is the fraction of requests that must finish (a queue that grows without
    bound leaves requests unfinished, and its percentiles over finished ones would flatter it).
    """

    bounds: dict[str, float]
    min_finished: float = 0.999

    def __post_init__(self):
        if not self.bounds:
            raise ValueError("an SLO needs at least one bound, e.g. tpot_p99_s=0.05")
        for key, value in self.bounds.items():
            if key not in SLO_KEYS:
                raise ValueError(f"SLO key {key!r} is not one of {', '.join(SLO_KEYS)}")
            if not value > 0:
                raise ValueError(f"SLO bound {key} must be positive, got {value!r}")

    def met_by(self, summary: dict) -> bool:
        requests = summary.get("requests") or 0
        finished = summary.get("finished") or 0
        if requests and finished / requests < self.min_finished:
            return False
        for key, bound in self.bounds.items():
            value = summary.get(key)
            if value is None or not value <= bound:
                return False
        return True


def parse_slo(items: list[str]) -> SLO:
    """``["tpot_p99_s=0.05", "ttft_p99_s=2"]`` → SLO."""
    bounds = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"SLO {item!r} must look like tpot_p99_s=0.05")
        try:
            bounds[key.strip()] = float(value)
        except ValueError:
            raise ValueError(f"SLO {item!r}: {value!r} is not a number") from None
    return SLO(bounds)


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
