"""The stages of ``osdsim demo``: each calls the library functions behind an osdsim subcommand
(and the CLI's own writers), so the demo is also a worked example of the API.

``real_run`` is ``osdsim run`` (``cmd_run.record_run``), ``calibrate_and_validate`` is ``osdsim
calibrate`` and ``osdsim validate`` (``cmd_calibrate.calibrate_to``, ``cmd_validate.validate_to``),
``what_if`` is ``osdsim sweep`` (``cmd_sweep.sweep_table``), ``capacity`` is ``osdsim plan``
(``osdsim.plan.workflow.plan_table``); the rest call ``osdsim.cost``, ``osdsim.sim`` and ``osdsim.plots``.
"""

from __future__ import annotations

from pathlib import Path

from osdsim.safe.atomic import atomic_file, write_text_atomic

ALPHAS = [round(0.05 * i, 2) for i in range(0, 20)] + [0.98]
GAMMAS = [1, 3, 5, 8]
CS = [0.02, 0.1, 0.3]
TARGET, DRAFT, HARDWARE = "vicuna-7b-v1.3", "llama-160m", "a100-80g"
SCHEDULE = "code:16,sql:64,math:64"  # a shift from the draft's own domain to two new ones
SLO_TPOT_S = 0.025


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


def closed_forms(figures: Path, out: Path) -> dict:
    from osdsim.plots.speedup import speedup_vs_alpha
    from osdsim.plots.style import save

    grid = speedup_grid()
    with atomic_file(out / "speedup_grid.csv") as tmp:
        grid.to_csv(tmp, index=False)
    save(speedup_vs_alpha(grid), figures / "speedup_vs_alpha.png")
    batches = batch_study()
    with atomic_file(out / "batch_study.csv") as tmp:
        batches.to_csv(tmp, index=False)
    pick = grid[grid["alpha"].isin([0.5, 0.7, 0.8, 0.9])].pivot_table(
        index=["c", "alpha"], columns="gamma", values="speedup").reset_index()
    pick.columns = [f"gamma={c}" if not isinstance(c, str) else c for c in pick.columns]
    return {"grid_points": len(grid), "table": pick, "batches": batches}


def real_run(out: Path, records: int | None) -> dict:
    """A real OSD run of the demo's small models on a domain-shift stream (``osdsim run``)."""
    from osdsim.cli.cmd_run import record_run
    from osdsim.real.pair import small_model_dir
    from osdsim.real.workflow import RunOptions

    trace = out / "osd-run.jsonl"
    options = RunOptions(target=str(small_model_dir("demo-target")), draft=str(small_model_dir("demo-draft")),
                         schedule=SCHEDULE, gamma=2, max_new_tokens=32, online=True, update_interval=4, lr=1e-3,
                         baseline=True, threads=1, records=records or None, progress=False)
    # A finished trace resumes as a no-op; a killed one continues.
    return record_run(options, str(trace), resume=trace.exists()) | {"trace_path": str(trace)}


def calibrate_and_validate(out: Path, figures: Path, trace: str) -> dict:
    """Calibrate the CPU card on the even records, validate on the odd ones (mean and median fits)."""
    from osdsim.cli.cmd_calibrate import calibrate_to
    from osdsim.cli.cmd_validate import validate_to
    from osdsim.plots.online import alpha_over_records
    from osdsim.plots.style import save
    from osdsim.trace import read_trace

    card = out / "cpu-demo.yaml"
    cal, _ = calibrate_to(str(card), trace=trace, records="even")
    val = validate_to(trace, card=str(card), records="odd", figure=str(figures / "demo_validate.png"),
                      table=str(out / "validate.csv")).payload
    typical = out / "cpu-demo-median.yaml"  # least absolute deviations: the machine's usual speed
    calibrate_to(str(typical), trace=trace, records="even", statistic="median")
    val_median = validate_to(trace, card=str(typical), records="odd").payload
    save(alpha_over_records(read_trace(trace).records,
                            title="Real OSD run on osdsim's demo models (CPU): α over records"),
         figures / "demo_alpha_over_records.png")
    return {"calibration": cal, "validation": val, "validation_median": val_median}


def service_scenario(curves: Path) -> dict:
    """Vicuna-7B + LLaMA-160M on A100-80Gs, domains and learning curves from a real run."""
    import json

    domains = list(json.loads(curves.read_text())["domains"])  # the real stream's order
    return {
        "seed": 0, "target": TARGET, "draft": DRAFT, "hardware": HARDWARE, "max_batch": 64, "gamma": 2,
        "workload": {"arrival": "poisson", "rate": 8.0, "num_requests": 1500,
                     "prompt_tokens": {"dist": "lognormal", "mean": 256, "cv": 0.6},
                     "output_tokens": {"dist": "lognormal", "mean": 128, "cv": 0.5},
                     "domains": domains, "schedule": {"kind": "blocks", "block_records": 500}},
        "acceptance": {"model": "learning_curve", "curves": str(curves.resolve())},
        "online": {"update_interval": 8, "mode": "spare"},
    }


def simulate_service(figures: Path, out: Path, scenario: dict) -> dict:
    import json

    from osdsim.plots.online import alpha_over_records
    from osdsim.plots.style import save
    from osdsim.sim import load_scenario, simulate

    online = simulate(load_scenario(scenario))
    frozen = simulate(load_scenario({k: v for k, v in scenario.items() if k != "online"}), baseline=False)
    write_text_atomic(out / "service_scenario.json", json.dumps(scenario, indent=2))
    with atomic_file(out / "service_requests.csv") as tmp:
        online.requests.to_csv(tmp, index=False)

    def as_records(df):
        return df.sort_values("arrival_s").assign(record=lambda d: range(len(d)))

    fig = alpha_over_records({"OSD (online updates)": as_records(online.requests),
                              "static draft": as_records(frozen.requests)},
                             title=f"Simulated {TARGET} + {DRAFT} on {HARDWARE}: α with measured learning curves")
    save(fig, figures / "demo_sim_alpha.png")
    keys = ("speedup", "mean_alpha", "latency_p50_s", "latency_p99_s", "tpot_p99_s", "throughput_tok_s",
            "updates", "update_stall_s", "flops_utilisation")
    return {"online": {k: online.summary.get(k) for k in keys},
            "static": {k: frozen.summary.get(k) for k in keys if k != "speedup"},
            "baseline": {k: online.summary["baseline"].get(k) for k in keys if k in online.summary["baseline"]}}


def what_if(figures: Path, out: Path, scenario_path: Path) -> dict:
    """A sweep of arrival rate × γ on the service scenario (``osdsim sweep``)."""
    import pandas as pd

    from osdsim.cli.cmd_sweep import sweep_table
    from osdsim.plots.studies import speedup_vs_rate
    from osdsim.plots.style import save
    from osdsim.sim.scenario_files import read_scenario_file
    from osdsim.sweep import grid_points, parse_axis

    table_path = out / "sweep.csv"
    axes = dict(parse_axis(a) for a in ("rate=2,8,16,24,32", "gamma=2,4,goodput", "workload.num_requests=400"))
    sweep_table(read_scenario_file(scenario_path), grid_points(axes), table_path, base_dir=str(scenario_path.parent))
    df = pd.read_csv(table_path)
    df["series"] = "γ = " + df["gamma"].astype(str)
    df = df.rename(columns={"workload.rate": "rate"})
    save(speedup_vs_rate(df, title=f"What-if: OSD speedup vs load ({TARGET} + {DRAFT}, {HARDWARE})"),
         figures / "demo_speedup_vs_rate.png")
    return {"rows": df[["rate", "gamma", "speedup", "mean_alpha", "latency_p50_s"]].to_dict("records")}


def capacity(figures: Path, out: Path, scenario_path: Path) -> dict:
    """Fewest A100-80Gs meeting a TPOT SLO at three loads (``osdsim plan``)."""
    import pandas as pd

    from osdsim.plan import parse_slo
    from osdsim.plan.workflow import plan_table
    from osdsim.plots.studies import replicas_vs_load
    from osdsim.plots.style import save

    plan_table(str(scenario_path), parse_slo([f"tpot_p99_s={SLO_TPOT_S}"]), rates=[10.0, 20.0, 40.0],
               overrides=["workload.num_requests=600"], gammas=[2, "goodput"], out=str(out / "plan.csv"))
    df = pd.read_csv(out / "plan.csv")
    best = df[df["best"]].fillna({"draft": "-"})
    save(replicas_vs_load(best, title=f"A100-80Gs for TPOT p99 ≤ {SLO_TPOT_S * 1000:.0f} ms"),
         figures / "demo_replicas_vs_load.png")
    return {"best": best[["rate", "mode", "draft", "gamma", "replicas", "gpus", "tpot_p99_s"]].to_dict("records")}
