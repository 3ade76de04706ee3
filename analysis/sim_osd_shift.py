"""Online speculative decoding through a domain shift, and what its updates cost the server.

Runs examples/scenarios/osd-domain-shift.yaml (Spider → GSM8K → Spider blocks, learning curves
per domain) three ways: a frozen draft (no updates), updates in spare compute, and exclusive
updates; then the spare-compute run again on a card with 1/40 of its FLOP/s left for training
(``--tight``) so updates no longer fit. Writes figures/sim_alpha_shift.png,
figures/sim_step_timeline.png and figures/sim_latency_cdf.png; prints a summary table.

    .venv/bin/python analysis/sim_osd_shift.py [--requests 6000]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from osdsim.sim import load_scenario, simulate
from osdsim.sim.pricing import build_cost

SCENARIO = Path(__file__).resolve().parent.parent / "examples" / "scenarios" / "osd-domain-shift.yaml"


class ScaledCapacity:
    """A cost model whose spare-compute ceiling is ``1/factor`` of the wrapped one (a busier card)."""

    def __init__(self, inner, factor: float):
        self.inner, self.factor = inner, factor

    def forward_s(self, *args):
        return self.inner.forward_s(*args)

    def forward_flops(self, *args):
        return self.inner.forward_flops(*args)

    def capacity_flops_per_s(self):
        return self.inner.capacity_flops_per_s() / self.factor

    def update_s(self, draft, num_tokens):
        return self.inner.update_s(draft, num_tokens)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--out", default="figures")
    args = parser.parse_args()
    n = {"workload.num_requests": args.requests}
    frozen = load_scenario(SCENARIO, {**n, "online": None, "acceptance.domains.spider.scale": 1e12,
                                      "acceptance.domains.gsm8k.scale": 1e12})
    spare = load_scenario(SCENARIO, n)
    exclusive = load_scenario(SCENARIO, {**n, "online.mode": "exclusive"})
    runs = {"frozen draft": simulate(frozen), "OSD, spare compute": simulate(spare),
            "OSD, exclusive updates": simulate(exclusive),
            "OSD, spare (1/40 FLOP/s left)": simulate(spare, cost=ScaledCapacity(build_cost(spare), 40.0))}
    rows = []
    for label, r in runs.items():
        s = r.summary
        rows.append({"run": label, "mean_alpha": s["mean_alpha"], "latency_p50_s": s["latency_p50_s"],
                     "latency_p99_s": s["latency_p99_s"], "speedup": s["speedup"], "updates": s["updates"],
                     "update_stall_s": s["update_stall_s"], "utilisation": s["utilisation"]})
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3g}"))

    from osdsim.plots.online import alpha_over_records
    from osdsim.plots.sim import latency_cdf, step_timeline

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    records = {k: r.requests.rename(columns={"request": "record"}) for k, r in list(runs.items())[:3]}
    alpha_over_records(records, window=100, title="Simulated OSD: α over records through a domain shift"
                       ).savefig(out / "sim_alpha_shift.png", dpi=130)
    step_timeline(runs["OSD, spare (1/40 FLOP/s left)"].steps, window=10, span_s=(300.0, 420.0),
                  title="Updates that do not fit in spare compute lengthen iterations").savefig(
        out / "sim_step_timeline.png", dpi=130)
    latency_cdf({k: r.requests for k, r in runs.items()}).savefig(out / "sim_latency_cdf.png", dpi=130)


if __name__ == "__main__":
    main()
