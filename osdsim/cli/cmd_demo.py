"""``osdsim demo``: the main job on embedded defaults.

So far: the closed-form speedup study (speedup vs α for several γ and c, and the roofline
speedup of Vicuna-7B + LLaMA-160M on an A100-80G versus batch), printed as tables and drawn
as figures. It grows as the simulator, real runs and validation land.
"""

from __future__ import annotations

import time
from pathlib import Path

from osdsim.cli.common import Result, add_parser, table

ALPHAS = [round(0.05 * i, 2) for i in range(0, 20)] + [0.98]
GAMMAS = [1, 3, 5, 8]
CS = [0.02, 0.1, 0.3]
TARGET, DRAFT, HARDWARE = "vicuna-7b-v1.3", "llama-160m", "a100-80g"


def register(subparsers) -> None:
    p = add_parser(subparsers, "demo", "run the main job on embedded defaults",
                   "Speedup study from the closed forms and the roofline; writes figures and a report.")
    p.add_argument("--figures", default="figures", help="folder for the figures (default figures/)")
    p.add_argument("--out", default="demo-out", help="folder for the report and tables (default demo-out/)")
    p.set_defaults(handler=run)


def speedup_grid():
    """Tidy DataFrame of the closed-form walltime improvement over ALPHAS × GAMMAS × CS."""
    import numpy as np
    import pandas as pd

    from osdsim import cost

    a, g, c = np.meshgrid(ALPHAS, GAMMAS, CS, indexing="ij")
    s = cost.walltime_improvement(a, g, c)
    return pd.DataFrame({"alpha": a.ravel(), "gamma": g.ravel(), "c": c.ravel(),
                         "tau": np.asarray(cost.tau(a, g)).ravel(), "speedup": s.ravel()})


def batch_study(alpha: float = 0.7, context: int = 256):
    """Roofline speedup of the OSD paper's pair on an A100-80G as the batch grows."""
    import pandas as pd

    from osdsim import cost
    from osdsim.specs import load_hardware, load_model

    t, d, hw = load_model(TARGET), load_model(DRAFT), load_hardware(HARDWARE)
    rows = []
    for batch in (1, 4, 16, 32, 64, 128, 256):
        g, s = cost.optimal_gamma_at_batch(alpha, t, d, hw, batch, context, max_gamma=10)
        fc = cost.forward_cost(t, hw, batch, 6, context)
        rows.append({"batch": batch, "speedup_gamma5": cost.spec_speedup(alpha, t, d, hw, batch, 5, context),
                     "best_gamma": g, "best_speedup": s, "verify_bound_gamma5": str(fc.bound),
                     "c": float(cost.c_from_cards(t, d, hw, batch, context))})
    return pd.DataFrame(rows)


def run(args) -> Result:
    from osdsim.plots.speedup import speedup_vs_alpha

    started = time.perf_counter()
    figures, out = Path(args.figures), Path(args.out)
    figures.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    grid = speedup_grid()
    grid.to_csv(out / "speedup_grid.csv", index=False)
    fig = speedup_vs_alpha(grid)
    fig_path = figures / "speedup_vs_alpha.png"
    fig.savefig(fig_path, dpi=120)
    batches = batch_study()
    batches.to_csv(out / "batch_study.csv", index=False)
    pick = grid[grid["alpha"].isin([0.5, 0.7, 0.8, 0.9])].pivot_table(
        index=["c", "alpha"], columns="gamma", values="speedup").reset_index()
    pick.columns = [str(c) if not isinstance(c, str) else c for c in pick.columns]
    text = "\n".join([
        "Closed-form walltime improvement (Leviathan et al. 2023, Theorem 3.8); columns are gamma:",
        table(pick.to_dict("records"), floatfmt=".3f"),
        "",
        f"Roofline speedup of {TARGET} + {DRAFT} on {HARDWARE}, alpha 0.7, context 256:",
        table(batches.to_dict("records"), floatfmt=".3f"),
        "",
        f"figure: {fig_path}",
        f"tables: {out / 'speedup_grid.csv'}, {out / 'batch_study.csv'}",
    ])
    payload = {"figures": [str(fig_path)], "tables": [str(out / "speedup_grid.csv"), str(out / "batch_study.csv")],
               "points": len(grid), "batch_study": batches.to_dict("records"),
               "wall_s": round(time.perf_counter() - started, 3)}
    return Result(payload, text)
