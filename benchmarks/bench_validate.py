"""Benchmark: calibration and validation speed on synthetic ground truth (no torch needed).

1. Fit the four roofline parameters to 2 models × 4 batches × 8 token counts × 6 contexts of
   timings (384 points, 3% noise) and report the wall time and the recovered parameters.
2. Validate a synthetic 200-record trace (γ = 4, α = 0.7, 128 new tokens each; ~9k steps) with
   a MeasuredCost table and report wall time, steps per second and the errors (near zero: the
   trace was made by the same costs).

    .venv/bin/python benchmarks/bench_validate.py [--records 200] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from osdsim.calibrate import MeasuredCost, fit_roofline, model_spec_from_hf_config  # noqa: E402
from osdsim.cost import RooflineCost, forward_time  # noqa: E402
from osdsim.specs import load_hardware  # noqa: E402
from osdsim.trace.io import Trace  # noqa: E402
from osdsim.validate.core import validate_trace  # noqa: E402
from osdsim.validate.synthetic import synthetic_trace  # noqa: E402

TRUE = {"bandwidth_efficiency": 0.45, "compute_efficiency": 0.3,
        "overhead_per_forward_s": 9e-4, "overhead_per_layer_s": 1.2e-4}
CFG = {"model_type": "llama", "hidden_size": 320, "intermediate_size": 864, "num_hidden_layers": 6,
       "num_attention_heads": 5, "vocab_size": 8192}


def models():
    target = model_spec_from_hf_config(CFG, "target")
    draft = model_spec_from_hf_config({**CFG, "hidden_size": 160, "intermediate_size": 432,
                                       "num_hidden_layers": 2, "num_attention_heads": 4,
                                       "tie_word_embeddings": True}, "draft")
    return target, draft


def bench_fit() -> dict:
    target, draft = models()
    truth = replace(load_hardware("cpu"), **TRUE)
    rng = np.random.default_rng(0)
    rows = [(m.name, b, k, ctx, forward_time(m, truth, b, k, ctx) * (1 + 0.03 * rng.standard_normal()))
            for m in (target, draft) for b in (1, 4, 16, 64) for k in range(1, 9) for ctx in (0, 32, 64, 128, 256, 512)]
    df = pd.DataFrame(rows, columns=["model", "batch", "new_tokens", "context", "seconds"])
    t0 = time.perf_counter()
    fit = fit_roofline(df, {"target": target, "draft": draft}, load_hardware("cpu"))
    wall = time.perf_counter() - t0
    return {"points": len(df), "wall_s": wall, "fitted": fit.params, "true": TRUE, **fit.summary()}


def bench_validate(records: int) -> dict:
    target, draft = models()
    hw = replace(load_hardware("cpu"), **TRUE)
    roof = RooflineCost(hw)
    lines = synthetic_trace(roof, target, draft, gamma=4, alpha=0.7, records=records, prompt_tokens=24,
                            num_tokens=128, rng=np.random.default_rng(1))
    frames = {k: pd.DataFrame([f for t, f in lines if t == k]) for k in ("step", "record")}
    trace = Trace("synthetic", lines[0][1], frames["step"], frames["record"], pd.DataFrame(), pd.DataFrame())
    table = tuple((m.name, 1, k, ctx, roof.forward_s(m, 1, k, ctx)) for m in (target, draft)
                  for k in (*range(1, 6), 23) for ctx in (0, 64, 128, 256))
    cost = MeasuredCost(hw, rows=table)
    t0 = time.perf_counter()
    v = validate_trace(trace, cost, target, draft, repeats=8)
    wall = time.perf_counter() - t0
    s = v.summary
    return {"records": records, "steps": len(v.steps), "wall_s": wall, "steps_per_s": len(v.steps) / wall,
            "step_median_ape_pct": s["steps"]["latency"]["median_ape_pct"],
            "record_median_ape_pct": s["replayed"]["latency"]["median_ape_pct"],
            "speedup_error_pct": s["replayed"]["speedup"]["error_pct"],
            "model_throughput_error_pct": s["acceptance_model"]["throughput"]["error_pct"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=200)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    out = {"fit": bench_fit(), "validate": bench_validate(args.records)}
    if args.json:
        print(json.dumps(out))
        return
    f, v = out["fit"], out["validate"]
    print(f"fit: {f['points']} points in {f['wall_s']:.2f} s; median |error| {f['median_abs_rel_error'] * 100:.2f}%")
    for key in TRUE:
        print(f"  {key:24s} true {TRUE[key]:.4g}  fitted {f['fitted'][key]:.4g}")
    print(f"validate: {v['records']} records, {v['steps']} steps in {v['wall_s']:.2f} s "
          f"({v['steps_per_s']:.0f} steps/s); step median APE {v['step_median_ape_pct']:.3g}%, record "
          f"median APE {v['record_median_ape_pct']:.3g}%, speedup error {v['speedup_error_pct']:+.3g}%, "
          f"acceptance-model throughput error {v['model_throughput_error_pct']:+.2f}%")


if __name__ == "__main__":
    main()
