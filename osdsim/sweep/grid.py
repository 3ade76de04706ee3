"""Sweep axes: parsing ``key=values`` specs, grids, random samples, stable point ids.

Keys are dotted scenario paths (``workload.rate``, ``online.update_interval``) or one of the
short aliases in :data:`ALIASES`. Values are typed here (``_scalar``: numbers, booleans, null,
else the string as written) and applied as they are by
:func:`osdsim.sim.scenario_files.apply_overrides`, so "1:30" stays a string.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from typing import Any

import numpy as np

ALIASES = {
    "alpha": "acceptance.alpha",
    "rate": "workload.rate",
    "num_requests": "workload.num_requests",
    "prompt_tokens": "workload.prompt_tokens",
    "output_tokens": "workload.output_tokens",
    "update_interval": "online.update_interval",
    "interference": "online.interference",
    "batch": "max_batch",
}
MAX_POINTS = 1_000_000  # refuse grids larger than this (a typo like 1:1000:1000000 would hang)


def canonical_key(key: str) -> str:
    return ALIASES.get(key, key)


def _scalar(text: str) -> Any:
    text = text.strip()
    if text.lower() in ("null", "none"):
        return None
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_axis(spec: str) -> tuple[str, list]:
    """``key=v1,v2,v3`` (a list) or ``key=lo:hi:n`` (n evenly spaced numbers, ends included)."""
    if "=" not in spec:
        raise ValueError(f"sweep axis {spec!r} must look like key=v1,v2 or key=lo:hi:n")
    key, _, values = spec.partition("=")
    key = canonical_key(key.strip())
    if not key:
        raise ValueError(f"sweep axis {spec!r} has an empty key")
    if values.count(":") == 2 and "," not in values:
        lo, hi, n = values.split(":")
        try:
            lo_f, hi_f, count = float(lo), float(hi), int(n)
        except ValueError:
            raise ValueError(f"sweep axis {spec!r}: lo:hi:n needs two numbers and an integer") from None
        if not 1 <= count <= MAX_POINTS:
            raise ValueError(f"sweep axis {spec!r}: n must be between 1 and {MAX_POINTS}")
        return key, [float(v) for v in np.linspace(lo_f, hi_f, count)]
    items = [_scalar(v) for v in values.split(",") if v.strip()]
    if not items:
        raise ValueError(f"sweep axis {spec!r} has no values")
    return key, items


def grid_points(axes: dict[str, list]) -> list[dict]:
    """Every combination of the axes' values, in a fixed order (first axis slowest)."""
    keys = [canonical_key(k) for k in axes]
    total = int(np.prod([len(v) for v in axes.values()])) if axes else 1
    if total > MAX_POINTS:
        raise ValueError(f"the grid has {total} points, more than the limit of {MAX_POINTS}")
    return [dict(zip(keys, combo)) for combo in itertools.product(*axes.values())]


def random_points(axes: dict[str, list | tuple], n: int, seed: int) -> list[dict]:
    """``n`` points: a list axis is sampled uniformly from its values, a (lo, hi) tuple uniformly in range."""
    if not 1 <= n <= MAX_POINTS:
        raise ValueError(f"the number of random points must be between 1 and {MAX_POINTS}")
    rng = np.random.default_rng(seed)
    points = []
    for _ in range(n):
        point = {}
        for key, values in axes.items():
            if isinstance(values, tuple):
                point[canonical_key(key)] = float(rng.uniform(values[0], values[1]))
            else:
                point[canonical_key(key)] = values[int(rng.integers(len(values)))]
        points.append(point)
    return points


def point_id(overrides: dict) -> str:
    """Stable id of a point (its overrides in canonical JSON), used to skip finished points on resume."""
    blob = json.dumps(overrides, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]
