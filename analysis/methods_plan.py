"""Which speculation method, by load: the fewest A100s meeting an SLO for each method.

The case of ``examples/scenarios/methods-vicuna-a100.yaml``: Vicuna-7B on A100-80GB GPUs with
SGLang's costs, plain decoding vs a 68M draft model vs an EAGLE head (chained or its default
tree) vs a Medusa head (its default tree) vs prompt lookup, each with the acceptance Spec-Bench
measured for it on that model and GPU (the scenario file cites the rows). SLO: TPOT p99 ≤ 30 ms
and TTFT p99 ≤ 2 s, the served rate within 5% of the offered one. Each method gets its best γ
(3 or goodput; a tree proposes its tree) and the fewest GPUs found at each rate is drawn.

Writes out/methods-plan.csv and figures/methods_plan.png and prints the best row per method.

    .venv/bin/python analysis/methods_plan.py [--rates 4,8,16,32] [--requests 600]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from osdsim.plan import parse_slo
from osdsim.plan.workflow import plan_table
from osdsim.plots.studies import replicas_vs_load
from osdsim.plots.style import save

SCENARIO = "examples/scenarios/methods-vicuna-a100.yaml"
METHODS = ("plain", "sps-68m", "eagle", "eagle-tree", "medusa-tree", "pld")
SLO = ("tpot_p99_s=0.03", "ttft_p99_s=2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="4,8,16,32", help="arrival rates, requests/s (comma list)")
    parser.add_argument("--requests", type=int, default=600, help="requests per simulation")
    parser.add_argument("--out", default="out/methods-plan.csv")
    parser.add_argument("--figure", default="figures/methods_plan.png")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    df, assumed = plan_table(SCENARIO, parse_slo(list(SLO)), rates=rates,
                             overrides=[f"workload.num_requests={args.requests}"], modes=("plain", "spec"),
                             gammas=[3, "goodput"], methods=list(METHODS), tps=[1], draft_tps=[1], out=args.out,
                             max_replicas=64, progress=False)
    best = df[df["best"]][["rate", "method", "gamma", "gpus", "tpot_p99_s", "ttft_p99_s", "mean_alpha"]]
    print(best.to_string(index=False))
    print("\n".join(assumed))
    fig = replicas_vs_load(df, title="Vicuna-7B on A100-80GB (SGLang costs): GPUs for TPOT p99 ≤ 30 ms, "
                                     "TTFT p99 ≤ 2 s, by speculation method (acceptance from Spec-Bench)")
    save(fig, args.figure)
    print(f"wrote {args.figure}")


if __name__ == "__main__":
    main()
