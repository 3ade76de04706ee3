"""Benchmark: one simulated hour at 100 requests/s on 4 replicas of a 7B target, γ = 5, OSD on.

Prints simulated seconds per wall second, µs per iteration and peak memory. Goals: issue 3, the
hour in < 10 s and < 1 GiB on the 2-core development machine; issue 14, <= 5 s (met only with
``--workers 2``); issue 11, a chain draft stays <= 10 s and a tree variant is reported.

The cost regime is the one the benchmark was written with (every forward pays 3 ms + 120 µs per
layer on the A100 roofline, added: 380k iterations, 64% prefill-only), so the hour's work stays
comparable across engine versions; ``--framework vllm-v1`` prices it with a framework card
instead (its cheaper steps make ~1.1M iterations of the same hour).

Measured on the shared 2-core VM (its speed varies ±30% minute to minute; compare engines in
the same minutes): the restructured engine (named stages, policies behind registries) took
7.4-7.7 s single-process and 4.5-5.6 s with ``--workers 2`` (20 µs per iteration) when it
landed; the fused engine it replaced took 6.6 s / 4.0 s in the same session, and 20-28% less
CPU in interleaved runs. With draft kinds and γ policies (issue 11) the chain takes 8.4-9.6 s
(5.5 s with ``--workers 2``), the same CPU as the engine before them in interleaved runs (the
VM was slower that hour), and the tree variant (``--tree``: an EAGLE-style head proposing an
8-node tree, 358k iterations) 12.3-12.7 s (35 µs per iteration; 8.9 s with ``--workers 2``).
Issue 11's goal: the chain ≤ 10 s. ``--duration-s`` shortens the run; ``--profile`` prints the
top of a cProfile.

    .venv/bin/python benchmarks/bench_sim.py [--duration-s 3600] [--workers 2] [--prefill-chunk 512]
        [--framework vllm-v1] [--tree] [--profile] [--json]

Peak memory is this process's peak RSS (ru_maxrss); with --workers it is the parent's, and
each worker's own peak is reported as children_peak_rss_mib (RUSAGE_CHILDREN: the largest).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

SCENARIO = {
    "seed": 0,
    "target": "vicuna-7b-v1.3",
    "draft": "llama-160m",
    "hardware": "a100-80g",
    "replicas": 4,
    "max_batch": 128,  # 25 requests/s per replica needs ~3.2k tokens/s: B = 64 at γ = 5 is marginal
    "gamma": 5,
    "workload": {
        "arrival": "poisson",
        "rate": 100.0,
        "duration_s": 3600.0,
        "prompt_tokens": {"dist": "lognormal", "mean": 128, "cv": 0.5},
        "output_tokens": {"dist": "lognormal", "mean": 128, "cv": 0.5},
        "domains": ["spider", "gsm8k"],
        "schedule": {"kind": "blocks", "block_records": 100_000},
    },
    "acceptance": {
        "model": "learning_curve",
        "domains": {
            "spider": {"alpha0": 0.55, "alpha_inf": 0.85, "scale": 2000},
            "gsm8k": {"alpha0": 0.5, "alpha_inf": 0.8, "scale": 2000},
        },
    },
    "online": {"update_interval": 8, "mode": "spare", "interference": 0.1},
}


# The benchmark's cost regime is the one it was written with (issue 3): every forward pays 3 ms +
# 120 us per layer on top of the A100 roofline, added. That keeps the hour's work (~380k
# iterations) comparable across versions of the engine. --framework prices it with a framework
# card instead (vllm-v1's cheaper steps make ~3x the iterations for the same hour).
# The tree variant (issue 11): a one-layer EAGLE-style head drafting a sparse 8-node tree of depth 5
# (the main chain plus second choices at the first three depths), verified as 8 tokens + 1.
TREE_DRAFT = {"kind": "head", "style": "eagle", "layers": 1,
              "tree": [[0], [1], [0, 0], [0, 1], [0, 0, 0], [0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0, 0]]}

LEGACY = {"name": "bench-legacy-eager", "host_per_forward_s": 3e-3, "host_per_layer_s": 120e-6, "overlap": False}


def bench_cost(framework: str | None):
    from osdsim.cost import RooflineCost
    from osdsim.specs import FrameworkSpec, load_hardware

    fw = framework or FrameworkSpec(**LEGACY)
    return RooflineCost(load_hardware(SCENARIO["hardware"]), framework=fw)


def peak_rss_mib(who: int = resource.RUSAGE_SELF) -> float:
    # ru_maxrss is KiB on Linux (bytes on macOS).
    peak = resource.getrusage(who).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def _cpu_s() -> float:
    # CPU seconds of this process and of its finished worker processes.
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration-s", type=float, default=3600.0, help="simulated seconds of arrivals")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the run")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--workers", type=int, default=1,
                        help="processes for the (independent, round-robin) replicas; same results")
    parser.add_argument("--framework", help="price with this framework card instead of the legacy regime")
    parser.add_argument("--tree", action="store_true",
                        help="the tree-draft variant: an EAGLE-style head proposing a sparse 8-node "
                             "tree of depth 5 instead of the 160M chain draft")
    parser.add_argument("--prefill-chunk", type=int, default=None,
                        help="chunked prefill: prompt tokens per iteration (default: whole prompts, vLLM V0)")
    args = parser.parse_args()

    import numpy  # noqa: F401  (imports are not part of the timed run)
    import pandas  # noqa: F401
    import simpy  # noqa: F401

    from osdsim.sim import load_scenario
    from osdsim.sim.run import run_once

    scenario = load_scenario(SCENARIO, {"workload.duration_s": args.duration_s,
                                        "prefill_chunk": args.prefill_chunk,
                                        **({"draft": TREE_DRAFT} if args.tree else {})})
    rss_before = peak_rss_mib()
    start = time.perf_counter()
    cpu_start = _cpu_s()
    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        result = prof.runcall(run_once, scenario, bench_cost(args.framework), args.workers)
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)
    else:
        result = run_once(scenario, bench_cost(args.framework), args.workers)
    wall, cpu = time.perf_counter() - start, _cpu_s() - cpu_start
    s = result.summary
    out = {
        "simulated_s": s["sim_time_s"],
        "wall_s": wall,
        "cpu_s": cpu,  # the machine is shared: CPU time shows what contention adds to wall time
        "sim_s_per_wall_s": s["sim_time_s"] / wall,
        "load_average_1m": os.getloadavg()[0],
        "peak_rss_mib": peak_rss_mib(),
        "children_peak_rss_mib": peak_rss_mib(resource.RUSAGE_CHILDREN),
        "workers": args.workers,
        "framework": args.framework or LEGACY["name"],
        "draft": "eagle tree (8 nodes, depth 5)" if args.tree else SCENARIO["draft"],
        "us_per_iteration": wall / s["iterations"] * 1e6,
        "rss_before_run_mib": rss_before,
        "requests": s["requests"],
        "iterations": s["iterations"],
        "projected_hour_wall_s": wall * 3600.0 / s["sim_time_s"],
        "updates": s["updates"],
        "mean_batch": s["mean_batch"],
        "mean_alpha": s["mean_alpha"],
        "latency_p50_s": s["latency_p50_s"],
        "goal_met": (s["sim_time_s"] >= 3600.0 and wall < 10.0
                     and max(peak_rss_mib(), peak_rss_mib(resource.RUSAGE_CHILDREN)) < 1024),
    }
    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:>20}  {v:.4g}" if isinstance(v, float) else f"{k:>20}  {v}")


if __name__ == "__main__":
    main()
