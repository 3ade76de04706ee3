"""Benchmark: points per second of a 1,000-point simulation sweep, local processes vs Ray.

Each point simulates 50 requests of Vicuna-7B + LLaMA-160M on an A100-80G (with its plain-decoding
baseline) at one (alpha, gamma, rate) of a 10 × 5 × 20 grid.
Run: .venv/bin/python benchmarks/bench_sweep.py [--points N]
"""

from __future__ import annotations

import argparse
import os
import time

from osdsim.sweep import grid_points, run_sweep

BASE = {"seed": 0, "max_batch": 32, "workload": {"rate": 4.0, "num_requests": 50, "prompt_tokens": 128,
                                                  "output_tokens": 64}}


def points(n: int) -> list[dict]:
    grid = grid_points({"alpha": [0.4 + 0.05 * i for i in range(10)], "gamma": [1, 2, 3, 4, 5],
                        "rate": [1.0 + i for i in range(20)]})
    return grid[:n]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=1000)
    args = parser.parse_args()
    pts = points(args.points)
    workers = os.cpu_count() or 2
    results = {}
    for backend in ("local", "ray"):
        t0 = time.perf_counter()
        rows = run_sweep(BASE, pts, evaluator="simulate", backend=backend, workers=workers)
        wall = time.perf_counter() - t0
        results[backend] = rows
        print(f"{backend:5s}: {len(rows)} points in {wall:.1f} s = {len(rows) / wall:.1f} points/s "
              f"({workers} workers, start-up included)")
    same = results["local"] == results["ray"]
    print(f"identical rows on both backends: {same}")


if __name__ == "__main__":
    main()
