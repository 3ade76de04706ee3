"""How many A100-80Gs does Vicuna-7B need for a TPOT SLO, with plain decoding, a static LLaMA-160M
draft, and an OSD draft whose α follows a learning curve? (The load effect on latency itself is
analysis/sim_load_effect.py.)

Writes figures/replicas_vs_load.png and prints the plan table.
Run: .venv/bin/python analysis/capacity_study.py [--requests N]
"""

from __future__ import annotations

import argparse

import pandas as pd
from _common import save, with_measured_curves

from osdsim.plan import SLO, plan
from osdsim.plots.studies import replicas_vs_load
from osdsim.sim import load_scenario, simulate

RATES = (5, 10, 20, 40, 80)
SLO_TPOT = SLO({"tpot_p99_s": 0.025})  # a latency-sensitive service: near plain decoding's floor
BASE = {
    "seed": 0, "target": "vicuna-7b-v1.3", "draft": "llama-160m", "hardware": "a100-80g",
    "max_batch": 64,
    "workload": {"arrival": "poisson", "prompt_tokens": {"dist": "lognormal", "mean": 256, "cv": 0.6},
                 "output_tokens": {"dist": "lognormal", "mean": 128, "cv": 0.5}},
    # Static draft: alpha0; OSD: rises towards alpha_inf over `scale` records (an assumption unless
    # measured curves exist in traces/, which then replace it).
    "acceptance": {"model": "learning_curve", "domains": {"default": {"alpha0": 0.55, "alpha_inf": 0.8,
                                                                      "scale": 300}}},
    "online": {"update_interval": 8, "mode": "spare"},
}


def summary(scenario: dict) -> dict:
    return simulate(load_scenario(scenario), baseline=False).summary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    rows = []
    measured = with_measured_curves(BASE)  # read once, not per rate
    for rate in RATES:
        base = {**measured, "workload": {**measured["workload"], "rate": float(rate), "num_requests": args.requests}}
        for row in plan(base, SLO_TPOT, summary, modes=("plain", "spec", "osd"), gammas=[2, "goodput"]):
            rows.append({"rate": rate, **row})
    df = pd.DataFrame(rows)
    best = df[df["best"]]
    print(df[["rate", "mode", "gamma", "replicas", "gpus", "tpot_p99_s", "best"]].to_string(index=False))
    save(replicas_vs_load(best, title="A100-80Gs for Vicuna-7B at TPOT p99 ≤ 25 ms"), "replicas_vs_load.png")


if __name__ == "__main__":
    main()
