"""Requests before they meet the servers: arrival times, prompt and output lengths, domains.

The whole workload is drawn up front with one Generator (vectorised, and identical for a
scenario and its plain-decoding baseline), so the engine only reads arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from osdsim.sim.scenario import LengthDist, Scenario, Schedule, Workload


@dataclass(frozen=True)
class Requests:
    """One row per request, sorted by arrival; ``domain`` holds indices into ``domains``."""

    arrival_s: np.ndarray  # float64, seconds from the start
    prompt_tokens: np.ndarray  # int64
    output_tokens: np.ndarray  # int64, tokens to generate (the first comes from the prefill)
    domain: np.ndarray  # int64 index into domains
    domains: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.arrival_s)


def draw_lengths(rng: np.random.Generator, spec: LengthDist, n: int) -> np.ndarray:
    """``n`` token counts; lognormal has the given mean and cv: σ² = ln(1 + cv²), μ = ln m − σ²/2."""
    if spec.dist == "uniform":
        return rng.integers(spec.low, spec.high + 1, size=n, dtype=np.int64)
    if spec.dist == "lognormal" and spec.cv > 0:
        sigma2 = math.log1p(spec.cv**2)
        x = rng.lognormal(math.log(spec.mean) - sigma2 / 2.0, math.sqrt(sigma2), size=n)
        return np.maximum(np.rint(x), 1).astype(np.int64)
    return np.full(n, max(1, round(spec.mean)), dtype=np.int64)


def _gaps(rng: np.random.Generator, w: Workload, n: int) -> np.ndarray:
    mean = 1.0 / w.rate
    if w.arrival == "poisson":
        return rng.exponential(mean, size=n)
    if w.arrival == "gamma":
        shape = 1.0 / w.cv**2  # gamma gaps: cv = 1/sqrt(shape)
        return rng.gamma(shape, mean / shape, size=n)
    return np.full(n, mean)


def arrival_times(rng: np.random.Generator, w: Workload) -> np.ndarray:
    """Arrival times: ``num_requests`` of them, or all in [0, duration_s). The first gap counts."""
    if w.num_requests is not None:
        return np.cumsum(_gaps(rng, w, w.num_requests))
    times, start = [], 0.0
    while True:
        chunk = start + np.cumsum(_gaps(rng, w, max(16, int(w.rate * w.duration_s * 0.2) + 16)))
        times.append(chunk[chunk < w.duration_s])
        if chunk[-1] >= w.duration_s:
            return np.concatenate(times)
        start = chunk[-1]


def draw_domains(rng: np.random.Generator, schedule: Schedule, num_domains: int, n: int) -> np.ndarray:
    if num_domains == 1:
        return np.zeros(n, dtype=np.int64)
    if schedule.kind == "blocks":
        return (np.arange(n, dtype=np.int64) // schedule.block_records) % num_domains
    weights = np.asarray(schedule.weights or [1.0] * num_domains, dtype=float)
    return rng.choice(num_domains, size=n, p=weights / weights.sum()).astype(np.int64)


MAX_REPLAY_ROWS = 10_000_000  # the scenario parser's bound on requests
MAX_REPLAY_TOKENS = 10_000_000  # and on tokens per request


def replay(path: str, domains: tuple[str, ...]) -> Requests:
    """Requests from a CSV or JSON Lines file with arrival_s, prompt_tokens, output_tokens[, domain]."""
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise ValueError(f"workload.file: no such file {path}")
    frame = pd.read_json(p, lines=True) if p.suffix in (".jsonl", ".json") else pd.read_csv(p)
    return from_frame(frame, domains, f"workload.file {path}")


def from_frame(frame, domains: tuple[str, ...] = ("default",), where: str = "requests") -> Requests:
    """Requests from a table with arrival_s, prompt_tokens, output_tokens[, domain] (one row each)."""
    import pandas as pd

    missing = {"arrival_s", "prompt_tokens", "output_tokens"} - set(frame.columns)
    if missing:
        raise ValueError(f"{where} lacks column(s) {', '.join(sorted(missing))}")
    if len(frame) > MAX_REPLAY_ROWS:
        raise ValueError(f"{where}: {len(frame)} rows, more than the {MAX_REPLAY_ROWS} a replay takes")
    try:
        arrival = pd.to_numeric(frame["arrival_s"], errors="raise").to_numpy(float)
        counts = frame[["prompt_tokens", "output_tokens"]].apply(pd.to_numeric, errors="raise").to_numpy(float)
    except (ValueError, TypeError):
        raise ValueError(f"{where}: arrival_s, prompt_tokens and output_tokens must be numbers") from None
    bad = ~np.isfinite(arrival) | (arrival < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{where}, row {row + 1}: arrival_s must be a finite number >= 0, got {float(arrival[row])!r}")
    if (~np.isfinite(counts) | (counts < 1) | (counts > MAX_REPLAY_TOKENS) | (counts != np.round(counts))).any():
        raise ValueError(f"{where}: token counts must be whole numbers in 1..{MAX_REPLAY_TOKENS}")
    frame = frame.sort_values("arrival_s", kind="stable")
    names = frame["domain"].astype(str) if "domain" in frame.columns else pd.Series(["default"] * len(frame))
    known = list(domains) + sorted(set(names) - set(domains))
    index = {d: i for i, d in enumerate(known)}
    return Requests(frame["arrival_s"].to_numpy(float), frame["prompt_tokens"].to_numpy(np.int64),
                    frame["output_tokens"].to_numpy(np.int64),
                    np.array([index[d] for d in names], dtype=np.int64), tuple(known))


def generate(scenario: Scenario, rng: np.random.Generator, requests=None) -> Requests:
    """The scenario's requests, drawn from ``rng`` (the workload's own child Generator), or
    ``requests`` as given (a :class:`Requests` or a table for :func:`from_frame`)."""
    w = scenario.workload
    if requests is not None:
        if isinstance(requests, Requests):
            return Requests(requests.arrival_s.copy(), requests.prompt_tokens, requests.output_tokens,
                            requests.domain, requests.domains)
        return from_frame(requests, w.domains)
    if w.arrival == "replay":
        if w.file is None:
            raise ValueError("workload.file is required when workload.arrival is replay "
                             "(or pass the requests to simulate)")
        return replay(scenario.resolve(w.file), w.domains)
    if w.arrival == "closed":  # arrivals happen as clients get their answers (set by the engine)
        arrivals = np.full(w.num_requests, math.nan)
    else:
        arrivals = arrival_times(rng, w)
    n = len(arrivals)
    if w.dataset is not None:
        from osdsim.trace.lengths import DATASETS, draw

        prompt, output = draw(rng, w.dataset if w.dataset in DATASETS else scenario.resolve(w.dataset),
                              w.tokenizer, n)
    else:
        prompt = draw_lengths(rng, w.prompt_tokens, n)
        output = draw_lengths(rng, w.output_tokens, n)
    domain = draw_domains(rng, w.schedule, len(w.domains), n)
    return Requests(arrivals, prompt, output, domain, w.domains)
