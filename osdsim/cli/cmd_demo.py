"""``osdsim demo``: the whole loop on embedded defaults, on a fresh machine, in minutes.

measure → calibrate → simulate → validate → what-if → plan, each stage an ordinary osdsim
subcommand run in-process (so the demo is also a worked example of the CLI):

1. closed forms: speedup vs α for several γ and c; the roofline batch study on an A100-80G;
2. real models (PyTorch, CPU): train osdsim's demo-size target and draft (cached), serve a
   domain-shift stream (code → sql → math) with online distillation, each record also decoded
   plainly as the baseline → a trace and fitted learning curves;
3. calibrate the CPU card on the even records' step timings, validate on the odd records;
4. simulate Vicuna-7B + LLaMA-160M on an A100-80G with the measured learning curves;
5. a what-if sweep (arrival rate × γ) and a capacity plan for a TPOT SLO;
6. figures and a Markdown report in the output folder.

``--skip-real`` leaves out stages 2–3 (no torch needed) and drives the simulator with the
committed trace's learning curves instead.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from osdsim.cli.common import Result, add_parser, table

ALPHAS = [round(0.05 * i, 2) for i in range(0, 20)] + [0.98]
GAMMAS = [1, 3, 5, 8]
CS = [0.02, 0.1, 0.3]
TARGET, DRAFT, HARDWARE = "vicuna-7b-v1.3", "llama-160m", "a100-80g"
SCHEDULE = "code:16,sql:64,math:64"  # a shift from the draft's own domain to two new ones
COMMITTED_CURVES = Path(__file__).resolve().parents[2] / "traces" / "osd-small-cpu-shift.jsonl.curves.json"
SLO_TPOT_S = 0.025


def register(subparsers) -> None:
    p = add_parser(subparsers, "demo", "run the main job on embedded defaults",
                   "The whole loop: closed forms, a real OSD run on small local models, calibration, "
                   "validation, simulation of a 7B service, a what-if sweep and a capacity plan; "
                   "figures and a Markdown report.")
    p.add_argument("--figures", default="figures", help="folder for the figures (default figures/)")
    p.add_argument("--out", default="demo-out", help="folder for traces, tables, cards and report.md")
    p.add_argument("--skip-real", action="store_true",
                   help="no real PyTorch run: use the committed trace's learning curves")
    p.add_argument("--records", type=int, help="serve only the first N records of the real stream")
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


class Stages:
    """Runs subcommands in-process, timing each stage and telling the user on stderr."""

    def __init__(self):
        from osdsim.cli.main import build_parser

        self.parser = build_parser()
        self.timings: dict[str, float] = {}

    def say(self, text: str) -> None:
        sys.stderr.write(f"demo: {text}\n")
        sys.stderr.flush()

    def call(self, argv: list[str]) -> dict:
        args = self.parser.parse_args([*argv, "--json"])
        return args.handler(args).payload

    def stage(self, name: str, fn, *a, **k):
        self.say(f"{name} ...")
        started = time.perf_counter()
        out = fn(*a, **k)
        self.timings[name] = round(time.perf_counter() - started, 1)
        self.say(f"{name} done in {self.timings[name]:.1f} s")
        return out


def closed_forms(figures: Path, out: Path) -> dict:
    from osdsim.plots.speedup import speedup_vs_alpha
    from osdsim.plots.style import save

    grid = speedup_grid()
    grid.to_csv(out / "speedup_grid.csv", index=False)
    save(speedup_vs_alpha(grid), figures / "speedup_vs_alpha.png")
    batches = batch_study()
    batches.to_csv(out / "batch_study.csv", index=False)
    pick = grid[grid["alpha"].isin([0.5, 0.7, 0.8, 0.9])].pivot_table(
        index=["c", "alpha"], columns="gamma", values="speedup").reset_index()
    pick.columns = [f"gamma={c}" if not isinstance(c, str) else c for c in pick.columns]
    return {"grid_points": len(grid), "table": pick, "batches": batches}


def real_run(st: Stages, out: Path, records: int | None) -> dict:
    from osdsim.real.pair import small_model_dir

    target = small_model_dir("demo-target")
    draft = small_model_dir("demo-draft")
    trace = out / "osd-run.jsonl"
    argv = ["run", "--target", str(target), "--draft", str(draft), "--schedule", SCHEDULE, "--gamma", "2",
            "--max-new-tokens", "32", "--online", "--update-interval", "4", "--lr", "1e-3", "--baseline",
            "--threads", "1", "--out", str(trace), "--no-progress"]
    if records:
        argv += ["--records", str(records)]
    if trace.exists():
        argv.append("--resume")  # a finished trace resumes as a no-op; a killed one continues
    return st.call(argv) | {"trace_path": str(trace)}


def calibrate_and_validate(st: Stages, out: Path, figures: Path, trace: str) -> dict:
    card = out / "cpu-demo.yaml"
    cal = st.call(["calibrate", "--trace", trace, "--records", "even", "--out", str(card)])
    val = st.call(["validate", trace, "--card", str(card), "--records", "odd",
                   "--figure", str(figures / "demo_validate.png"), "--table", str(out / "validate.csv")])
    typical = out / "cpu-demo-median.yaml"  # least absolute deviations: the machine's usual speed
    st.call(["calibrate", "--trace", trace, "--records", "even", "--statistic", "median", "--out", str(typical)])
    val_median = st.call(["validate", trace, "--card", str(typical), "--records", "odd"])
    st.call(["plot", "alpha-records", trace, "--out", str(figures / "demo_alpha_over_records.png"),
             "--title", "Real OSD run on osdsim's demo models (CPU): α over records"])
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
    (out / "service_scenario.json").write_text(json.dumps(scenario, indent=2))
    online.requests.to_csv(out / "service_requests.csv", index=False)

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


def what_if(st: Stages, figures: Path, out: Path, scenario_path: Path) -> dict:
    import pandas as pd

    from osdsim.plots.studies import speedup_vs_rate
    from osdsim.plots.style import save

    table_path = out / "sweep.csv"
    st.call(["sweep", str(scenario_path), "--axis", "rate=2,8,16,24,32", "--axis", "gamma=2,4,goodput",
             "--axis", "workload.num_requests=400", "--out", str(table_path)])
    df = pd.read_csv(table_path)
    df["series"] = "γ = " + df["gamma"].astype(str)
    df = df.rename(columns={"workload.rate": "rate"})
    save(speedup_vs_rate(df, title=f"What-if: OSD speedup vs load ({TARGET} + {DRAFT}, {HARDWARE})"), figures / "demo_speedup_vs_rate.png")
    return {"rows": df[["rate", "gamma", "speedup", "mean_alpha", "latency_p50_s"]].to_dict("records")}


def capacity(st: Stages, figures: Path, out: Path, scenario_path: Path) -> dict:
    import pandas as pd

    from osdsim.plots.studies import replicas_vs_load
    from osdsim.plots.style import save

    argv = ["plan", str(scenario_path), "--slo", f"tpot_p99_s={SLO_TPOT_S}", "--gamma", "2", "--gamma", "goodput",
            "--set", "workload.num_requests=600", "--out", str(out / "plan.csv")]
    for rate in (10, 20, 40):
        argv += ["--rate", str(rate)]
    st.call(argv)
    df = pd.read_csv(out / "plan.csv")
    best = df[df["best"]].fillna({"draft": "-"})
    save(replicas_vs_load(best, title=f"A100-80Gs for TPOT p99 ≤ {SLO_TPOT_S * 1000:.0f} ms"), figures / "demo_replicas_vs_load.png")
    return {"best": best[["rate", "mode", "draft", "gamma", "replicas", "gpus", "tpot_p99_s"]].to_dict("records")}


def run(args) -> Result:
    started = time.perf_counter()
    figures, out = Path(args.figures), Path(args.out)
    figures.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    st = Stages()
    results: dict = {"closed_forms": st.stage("closed forms", closed_forms, figures, out)}
    if not args.skip_real:
        try:
            from osdsim.real.env import import_torch

            import_torch()  # passive OpenMP waits before torch loads: training shares the cores
        except ImportError:
            st.say("torch is not installed: skipping the real run (pip install 'osdsim[real]')")
            args.skip_real = True
    if not args.skip_real:
        results["real"] = st.stage("real OSD run (train demo models if not cached, then serve)",
                                   real_run, st, out, args.records)
        results["loop"] = st.stage("calibrate on even records, validate on odd", calibrate_and_validate,
                                   st, out, figures, results["real"]["trace_path"])
        curves = Path(results["real"]["curves"])
    else:
        curves = COMMITTED_CURVES
        if not curves.exists():  # an installed package without the repository's traces/
            raise ValueError(f"the committed learning curves {curves} are missing; run the demo from a checkout")
    import json

    import yaml

    scenario = service_scenario(curves)
    scenario_path = out / "service_scenario.yaml"
    scenario_path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    results["service"] = st.stage("simulate the 7B service", simulate_service, figures, out, scenario)
    results["what_if"] = st.stage("what-if sweep", what_if, st, figures, out, scenario_path)
    results["plan"] = st.stage("capacity plan", capacity, st, figures, out, scenario_path)
    from osdsim.cli.demo_report import write_report

    report = write_report(out, figures, results, st.timings, curves)
    wall = round(time.perf_counter() - started, 1)
    payload = {"out": str(out), "report": str(report), "figures": sorted(str(p) for p in figures.glob("*.png")),
               "stage_s": st.timings, "wall_s": wall, "curves": str(curves),
               "batch_study": results["closed_forms"]["batches"].to_dict("records"),
               "service": results["service"]}
    if "loop" in results:
        val = results["loop"]["validation"]
        payload["validation"] = {"speedup": val["replayed"]["speedup"], "throughput": val["replayed"]["throughput"],
                                 "record_latency": val["replayed"]["latency"], "alpha": val["alpha"]}
    text = "\n".join([
        "Closed-form walltime improvement (Leviathan et al. 2023, Theorem 3.8):",
        table(results["closed_forms"]["table"].to_dict("records"), floatfmt=".3f"),
        "",
        f"Report: {report}",
        f"Figures: {figures}/ ({', '.join(Path(f).name for f in payload['figures'])})",
        f"Stage times (s): {json.dumps(st.timings)}; total {wall} s",
    ])
    return Result(payload, text)
