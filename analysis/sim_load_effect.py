"""Where speculation stops paying under load: Vicuna-7B + LLaMA-160M on one A100-80GB.

Plain decoding, fixed γ = 5 and the goodput γ policy on the same Poisson requests at rising
arrival rates. Writes figures/sim_latency_vs_rate.png and figures/sim_speedup_vs_rate.png and
prints the table.

    .venv/bin/python analysis/sim_load_effect.py [--requests 600]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from osdsim.sim import simulate

RATES = (1, 4, 8, 12, 16, 20, 24, 28, 32)
BASE = {"target": "vicuna-7b-v1.3", "draft": "llama-160m", "hardware": "a100-80g", "max_batch": 256,
        "acceptance": {"model": "constant", "alpha": 0.7},
        "workload": {"arrival": "poisson", "prompt_tokens": 128, "output_tokens": 128}}


def run(num_requests: int) -> pd.DataFrame:
    rows = []
    for rate in RATES:
        workload = dict(BASE["workload"], rate=float(rate), num_requests=num_requests)
        for mode, gamma in (("γ = 5", 5), ("goodput γ", "goodput")):
            s = simulate(dict(BASE, gamma=gamma, workload=workload)).summary
            rows.append({"rate": rate, "mode": mode, "speedup": s["speedup"], "series": mode,
                         "mean_gamma": s["mean_gamma"], "mean_batch": s["mean_batch"],
                         **{k: s[k] for k in ("latency_p50_s", "latency_p99_s", "ttft_p50_s", "ttft_p99_s")}})
        b = s["baseline"]
        rows.append({"rate": rate, "mode": "plain", "speedup": 1.0, "series": "plain",
                     "mean_gamma": 0.0, "mean_batch": b["mean_batch"],
                     **{k: b[k] for k in ("latency_p50_s", "latency_p99_s", "ttft_p50_s", "ttft_p99_s")}})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600, help="requests per rate")
    parser.add_argument("--out", default="figures", help="folder for the figures")
    args = parser.parse_args()
    df = run(args.requests)
    print(df.drop(columns="series").to_string(index=False, float_format=lambda v: f"{v:.3g}"))

    from osdsim.plots.studies import latency_vs_rate, speedup_vs_rate

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    latency_vs_rate(df, title="Vicuna-7B + LLaMA-160M, A100-80GB, α = 0.7").savefig(
        out / "sim_latency_vs_rate.png", dpi=130)
    speedup_vs_rate(df[df["mode"] != "plain"], title="Speedup over plain decoding vs load (simulated)").savefig(
        out / "sim_speedup_vs_rate.png", dpi=130)


if __name__ == "__main__":
    main()
