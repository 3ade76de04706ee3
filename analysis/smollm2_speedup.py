"""Measured speedup of SmolLM2 speculative decoding next to the closed form's prediction.

    .venv/bin/python analysis/smollm2_speedup.py traces/smollm2-osd-cpu.jsonl [traces/smollm2-gamma-*.jsonl]

For each trace with plain-decoding baselines and each domain block (its last ``--edge`` records:
the draft after adaptation in an online run), prints the measured speedup (plain time over
speculative time of the same prompts), the measured α (accepted / tested positions), c (the
draft's time per drafted token over plain decoding's time per token, both from the trace), and
the closed form τ(α, γ) / (γc + 1) (Leviathan et al. 2023, Theorem 3.8), which assumes verifying
γ + 1 tokens costs one decoding step: the ratio verify / plain step is printed beside it, and
τ / (γc + verify ratio), the same formula with the verify priced as measured; decoding_speedup
leaves both sides' prefill out; outside_forwards is the share of speculative decoding time spent
outside the draft and verify forwards (cache rollback, Python); tokens_per_step is what the steps
emitted against τ(α, γ), which assumes independent acceptances; verify_mean_over_step is the mean
where verify_over_step is the median.
"""

from __future__ import annotations

import argparse

import pandas as pd
from _common import ROOT  # noqa: F401  (also puts the repo on sys.path)

from osdsim import cost
from osdsim.trace import read_trace
from osdsim.trace.blocks import block_ids
from osdsim.trace.select import record_mode


def rows(path: str, edge: int):
    t = read_trace(path)
    gamma = int(t.meta["gamma"])
    mode = record_mode(t.records)
    spec = t.records[mode == "speculative"].sort_values("record")
    base = t.records[mode == "baseline"].set_index("record")
    if base.empty:
        return
    for _, block in spec.groupby(block_ids(spec)):
        part = block.tail(edge)
        ids = set(part["record"])
        steps = t.steps[t.steps["record"].isin(ids)]
        plain = base.loc[part["record"]]
        plain_token_s = float((plain["latency_s"] - plain["prefill_s"]).sum() / plain["num_tokens"].sum())
        tested = steps["accepted_mask"].map(len).sum()
        alpha = float(steps["accepted"].sum() / tested) if tested else float("nan")
        drafted = steps["drafted"].sum()
        c = float(steps["draft_s"].sum() / drafted / plain_token_s) if drafted else float("nan")
        full = steps[steps["drafted"] == gamma]
        verify_ratio = float(full["verify_s"].median() / plain_token_s) if len(full) else float("nan")
        measured = float(plain["latency_s"].sum() / part["latency_s"].sum())
        decoding = part["latency_s"] - part["prefill_s"]  # the speculative records without their prefill
        forwards = float((steps["draft_s"] + steps["verify_s"]).sum())
        yield {"trace": path.split("/")[-1], "domain": block["domain"].iloc[0], "records": len(part), "gamma": gamma,
               "alpha": round(alpha, 3), "c": round(c, 3), "verify_over_step": round(verify_ratio, 2),
               "measured_speedup": round(measured, 3),
               "decoding_speedup": round(float((plain["latency_s"] - plain["prefill_s"]).sum() / decoding.sum()), 3),
               "outside_forwards": round(1 - forwards / float(decoding.sum()), 3),
               "tokens_per_step": round(float(steps["emitted"].sum() / len(steps)), 3),
               "tau": round(float(cost.tau(alpha, gamma)), 3),
               "verify_mean_over_step": round(float(full["verify_s"].mean() / plain_token_s), 2),
               "closed_form": round(float(cost.walltime_improvement(alpha, gamma, c)), 3),
               "with_verify_cost": round(float(cost.tau(alpha, gamma)) / (gamma * c + verify_ratio), 3),
               "plain_tok_s": round(1 / plain_token_s, 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("traces", nargs="+")
    p.add_argument("--edge", type=int, default=50, help="records at the end of each block (default 50)")
    args = p.parse_args()
    table = pd.DataFrame([r for path in args.traces for r in rows(path, args.edge)])
    pd.set_option("display.width", 200)
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
