"""How often must the draft be updated? OSD at update intervals I = 1 … 128, with the update riding
in spare compute or taking the card, on the OSD paper's pair (Vicuna-7B + LLaMA-160M, A100-80G).

A shorter I trains the draft sooner (α climbs its learning curve earlier) but pays a fixed
per-update overhead more often; in exclusive mode that overhead stalls serving. Learning curves
come from a committed real trace when there is one (traces/*.curves.json), else the assumption
below. Writes figures/update_interval.png and prints the table.
Run: .venv/bin/python analysis/update_interval.py [--requests N]
"""

from __future__ import annotations

import argparse

import pandas as pd
from _common import save, with_measured_curves

from osdsim.plots.studies import vs_update_interval
from osdsim.sim import load_scenario, simulate

INTERVALS = (1, 2, 4, 8, 16, 32, 64, 128)
BASE = {
    "seed": 0, "target": "vicuna-7b-v1.3", "draft": "llama-160m", "hardware": "a100-80g",
    "max_batch": 32, "gamma": 4,
    "workload": {"arrival": "poisson", "rate": 6.0, "prompt_tokens": {"dist": "lognormal", "mean": 256, "cv": 0.6},
                 "output_tokens": {"dist": "lognormal", "mean": 128, "cv": 0.5}},
    "acceptance": {"model": "learning_curve", "domains": {"default": {"alpha0": 0.5, "alpha_inf": 0.8,
                                                                      "scale": 200}}},
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1500)
    args = parser.parse_args()
    base = with_measured_curves({**BASE, "workload": {**BASE["workload"], "num_requests": args.requests}})
    rows = []
    for mode in ("spare", "exclusive"):
        for interval in INTERVALS:
            scen = {**base, "online": {"update_interval": interval, "mode": mode}}
            s = simulate(load_scenario(scen)).summary
            rows.append({"series": f"updates in {mode} compute" if mode == "spare" else "updates take the card",
                         "update_interval": interval, "speedup": s["speedup"], "latency_p50_s": s["latency_p50_s"],
                         "mean_alpha": s["mean_alpha"], "updates": s["updates"],
                         "update_stall_s": s["update_stall_s"]})
    df = pd.DataFrame(rows)
    print(df.to_string(index=False))
    save(vs_update_interval(df, title="OSD update interval I (Vicuna-7B + LLaMA-160M, A100-80G)"),
         "update_interval.png")


if __name__ == "__main__":
    main()
