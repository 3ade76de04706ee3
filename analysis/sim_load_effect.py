"""Where speculation stops paying under load, and how much the serving framework decides it.

The set-up of vLLM's published load curve (vLLM blog, "How Speculative Decoding Boosts vLLM
Performance by up to 2.8x", 2024-10-17): Llama-3-70B-Instruct on 4 H100s (tensor parallel 4), a
~0.5B draft (turboderp/Qwama-0.5B-Instruct, priced as qwen2.5-0.5b) at draft_tp 1, γ = 4,
ShareGPT-like lengths, Poisson arrivals. α is solved once, at 1 request/s, from the published
1.5× under vLLM V0's costs (benchmarks/published, row vllmblog24-001), then every rate and
framework is simulated with it: vLLM V0 (batch-expansion scoring, synchronous Python step
costs), vLLM V1 and SGLang. Published: 1.5× at 1 request/s, 0.71× at 10 (vllmblog24-002).

Writes figures/sim_speedup_vs_rate.png and figures/sim_latency_vs_rate.png and prints the table.

    .venv/bin/python analysis/sim_load_effect.py [--requests 1500]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from osdsim.sim import simulate

RATES = (1, 2, 4, 6, 8, 9, 10, 12)
FRAMEWORKS = ("vllm-v0", "vllm-v1", "sglang")
SHAREGPT = {"dist": "lognormal", "mean": 256, "cv": 1.0}
BASE = {"target": "llama-3-70b-instruct", "draft": "qwen2.5-0.5b", "hardware": "h100-sxm", "tp": 4, "draft_tp": 1,
        "gamma": 4, "max_batch": 256,
        "workload": {"arrival": "poisson", "prompt_tokens": SHAREGPT, "output_tokens": SHAREGPT}}
PUBLISHED = {1: 1.5, 10: 0.714}  # vLLM blog, draft-model curve (V0)


def solve_alpha(num_requests: int, target: float = PUBLISHED[1]) -> float:
    """The α whose simulated speedup at 1 request/s under vLLM V0 is the published 1.5×."""
    lo, hi = 0.0, 1.0
    for _ in range(12):
        mid = (lo + hi) / 2
        s = _run("vllm-v0", 1, mid, num_requests)["speedup"]
        lo, hi = (mid, hi) if s < target else (lo, mid)
    return (lo + hi) / 2


def _run(framework: str, rate: float, alpha: float, num_requests: int) -> dict:
    workload = dict(BASE["workload"], rate=float(rate), num_requests=num_requests)
    return simulate(dict(BASE, framework=framework, workload=workload,
                         acceptance={"model": "constant", "alpha": alpha})).summary


def run(num_requests: int) -> tuple[pd.DataFrame, float]:
    alpha = solve_alpha(num_requests)
    rows = []
    for framework in FRAMEWORKS:
        for rate in RATES:
            s = _run(framework, rate, alpha, num_requests)
            rows.append({"framework": framework, "rate": rate, "speedup": s["speedup"],
                         "speedup_steady": s["speedup_steady"], "mean_batch": s["mean_batch"],
                         "latency_mean_s": s["latency_mean_s"], "baseline_latency_mean_s": s["baseline"]["latency_mean_s"],
                         "published": PUBLISHED.get(rate) if framework == "vllm-v0" else None})
    return pd.DataFrame(rows), alpha


def figures(df: pd.DataFrame, alpha: float, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for framework, g in df.groupby("framework", sort=False):
        ax.plot(g["rate"], g["speedup"], marker="o", label=f"osdsim, {framework}")
    ax.scatter(list(PUBLISHED), list(PUBLISHED.values()), marker="*", s=160, color="black", zorder=5,
               label="published (vLLM blog, V0)")
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_xlabel("arrival rate (requests/s, Poisson)")
    ax.set_ylabel("speedup (plain mean latency / spec mean latency)")
    ax.set_title(f"Llama-3-70B on 4×H100 + 0.5B draft, γ=4, α={alpha:.2f} (solved at 1 req/s)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "sim_speedup_vs_rate.png", dpi=150)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for framework, g in df.groupby("framework", sort=False):
        line, = ax.plot(g["rate"], g["latency_mean_s"], marker="o", label=f"{framework}: speculative")
        ax.plot(g["rate"], g["baseline_latency_mean_s"], ls="--", color=line.get_color(), label=f"{framework}: plain")
    ax.set_xlabel("arrival rate (requests/s)")
    ax.set_ylabel("mean request latency (s)")
    ax.set_yscale("log")
    ax.set_title("Same set-up: latency of speculative vs plain decoding", fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "sim_latency_vs_rate.png", dpi=150)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=1500)
    args = ap.parse_args()
    df, alpha = run(args.requests)
    print(f"alpha solved at 1 request/s (vLLM V0, published 1.5x): {alpha:.3f}")
    print(df.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    figures(df, alpha, Path(__file__).resolve().parents[1] / "figures")


if __name__ == "__main__":
    main()
