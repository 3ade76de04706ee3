"""Benchmark: vectorised closed-form sweep throughput and cold start of `osdsim speedup --json`.

Goals (issue 2): >= 10 million points/s for the sweep; cold `osdsim speedup --json` under 0.5 s.
Run: .venv/bin/python benchmarks/bench_cost.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from osdsim import cost


def sweep_points_per_s(n: int = 10_000_000, repeats: int = 5) -> float:
    rng = np.random.default_rng(0)
    alpha = rng.uniform(0, 0.999, n)
    gamma = rng.integers(1, 9, n).astype(float)
    c = rng.uniform(0.01, 0.5, n)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        cost.walltime_improvement(alpha, gamma, c)
        times.append(time.perf_counter() - t0)
    return n / min(times)


def cold_start_s(repeats: int = 5) -> float:
    exe = Path(sys.executable).with_name("osdsim")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "osdsim.cli.main"]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd + ["speedup", "--alpha", "0.7", "--gamma", "4", "--c", "0.1", "--json"],
                       check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


if __name__ == "__main__":
    pps = sweep_points_per_s()
    cold = cold_start_s()
    print(f"vectorised speedup sweep: {pps / 1e6:.1f} million points/s (goal >= 10)")
    print(f"cold `osdsim speedup --json`: {cold:.3f} s median of 5 (goal < 0.5 s)")
