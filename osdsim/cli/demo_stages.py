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
SLO_TPOT_S = 0.025
# The live run, the OSD paper's recipe at demo size: SmolLM2-135M-Instruct and a 2-layer draft built
# from it, distilled for about a minute on ShareGPT text, then offline on the target's replies to
# 40 text-to-SQL questions (about two minutes; both cached), then adapted online on 24 SQL questions
# it never saw (offline prompts come from another seed than the stream's).
LIVE_SCHEDULE = "sql-q:24"
LIVE_TEXT_TOKENS = 16_384
LIVE_OFFLINE_PROMPTS = 40
# The committed SmolLM2 experiments (analysis/smollm2_osd.sh, ~3.5 h on the 2-core VM).
TRACES = Path(__file__).resolve().parents[2] / "traces"
# Replies end at the target's end-of-turn token; blocks of 200 records (HumanEval: its 164).
COMMITTED = {"online (OSD)": "smollm2-osd-long-cpu.jsonl", "offline-distilled": "smollm2-offline-eos-cpu.jsonl",
             "frozen": "smollm2-frozen-eos-cpu.jsonl"}
# The speedup: SQL questions at γ 2, each also decoded plainly, served by a draft adapting online
# from the generic draft (200 questions) and from the offline-distilled one (400: the OSD recipe).
COMMITTED_SPEEDUP = {"the generic draft": "smollm2-osd-sql-g2-cpu.jsonl",
                     "the offline-distilled draft": "smollm2-osd-sql400-offline-g2-cpu.jsonl"}


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


def committed_experiments(figures: Path) -> dict:
    """The committed SmolLM2 runs: α over records for the online, offline-distilled and frozen
    drafts on one shifting stream, and the online run's α and speedup per block."""
    from osdsim.plots.online import alpha_over_records, speedup_over_records
    from osdsim.plots.style import save
    from osdsim.trace import read_trace
    from osdsim.trace.blocks import align_blocks, block_table

    paths = {label: TRACES / name for label, name in COMMITTED.items()}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:  # an installed package without the repository's traces/
        raise ValueError(f"the committed traces {', '.join(missing)} are missing; run the demo from a checkout")
    records = {label: read_trace(p).records for label, p in paths.items()}
    save(alpha_over_records(align_blocks(records), 25, "SmolLM2-135M + 2-layer draft (CPU): α over records, "
                            "committed traces"), figures / "demo_smollm2_alpha.png")
    blocks = {label: block_table(r, 50) for label, r in records.items()}
    online = blocks["online (OSD)"]
    speed = {label: read_trace(TRACES / name) for label, name in COMMITTED_SPEEDUP.items() if (TRACES / name).is_file()}
    speedup = [{**row, "draft": label, "trace": COMMITTED_SPEEDUP[label], "gamma": t.meta.get("gamma")}
               for label, t in speed.items() for row in block_table(t.records, 50).round(3).to_dict("records")]
    if speed:
        save(speedup_over_records({f"{label}, online": t.records for label, t in speed.items()}, 50,
                                  "SmolLM2-135M + 2-layer draft on SQL (CPU, γ = 2): speedup over plain decoding, "
                                  "committed traces"), figures / "demo_smollm2_speedup.png")
    return {"traces": {label: str(p) for label, p in paths.items()},
            "online_blocks": online.round(3).to_dict("records"),
            "speedup": speedup or None,
            "static_alpha": {label: b.set_index("domain")["alpha_first"].round(3).to_dict()
                             for label, b in blocks.items() if label != "online (OSD)"},
            "curves": str(paths["online (OSD)"]) + ".curves.json"}


def live_draft(progress: bool = False) -> str:
    """The live run's draft, distilled once and cached: on ShareGPT text, then offline on the
    target's replies to ``LIVE_OFFLINE_PROMPTS`` held-out SQL questions."""
    from osdsim.real.model_workflows import distill_offline, save_draft
    from osdsim.real.small import CACHE_DIR

    generic = CACHE_DIR / "smollm2-drafts" / f"demo-l2-{LIVE_TEXT_TOKENS}"
    if not (generic / "config.json").is_file():
        pair, _ = distill_offline(target="smollm2-135m", draft="layers:2", domains=[], text_tokens=LIVE_TEXT_TOKENS,
                                  text_lr=1e-3, progress=progress)
        save_draft(pair, str(generic))
    folder = generic.with_name(f"{generic.name}-sql{LIVE_OFFLINE_PROMPTS}")
    if not (folder / "config.json").is_file():
        pair, _ = distill_offline(target="smollm2-135m", draft=str(generic), domains=["sql-q"],
                                  prompts_per_domain=LIVE_OFFLINE_PROMPTS, epochs=2, lr=5e-4, progress=progress)
        save_draft(pair, str(folder))
    return str(folder)


def real_run(out: Path, records: int | None) -> dict:
    """A live OSD run on this machine (``osdsim run``): SmolLM2-135M-Instruct, the cached demo
    draft adapted online on text-to-SQL questions, each record also decoded plainly."""
    from osdsim.cli.cmd_run import record_run
    from osdsim.real.workflow import ResumeMismatch, RunOptions

    trace = out / "osd-run.jsonl"
    # γ 2 and two threads, as the committed speedup runs (γ 2 pays best on a 2-core CPU: README, "Speedup")
    options = RunOptions(target="smollm2-135m", draft=live_draft(), schedule=LIVE_SCHEDULE, gamma=2,
                         max_new_tokens=64, online=True, update_interval=4, lr=5e-4, positions="all",
                         baseline=True, threads=2, records=records or None, progress=False)
    # A finished trace resumes as a no-op; a killed one continues; one an older demo wrote with
    # other options (this is the demo's own output) is replaced.
    try:
        payload = record_run(options, str(trace), resume=trace.exists())
    except ResumeMismatch:
        for stale in (trace, Path(f"{trace}.draft.pt")):
            stale.unlink(missing_ok=True)
        payload = record_run(options, str(trace))
    payload["trace_path"] = str(trace)
    from osdsim.trace import read_trace
    from osdsim.trace.blocks import block_table

    payload["blocks"] = block_table(read_trace(str(trace)).records, 8).round(3).to_dict("records")
    payload.update(schedule=LIVE_SCHEDULE, text_tokens=LIVE_TEXT_TOKENS, offline_prompts=LIVE_OFFLINE_PROMPTS)
    return payload


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
    save(alpha_over_records(read_trace(trace).records, 8,
                            title="Live OSD run, SmolLM2-135M + 2-layer draft (this CPU): α over records"),
         figures / "demo_alpha_over_records.png")
    return {"calibration": cal, "validation": val, "validation_median": val_median}


def sharegpt_lengths() -> dict | None:
    """ShareGPT's prompt and output lengths in SmolLM2's tokens for the simulated service (the
    table is built once, ~30 s); None where the real extra or the data is not installed."""
    try:
        from osdsim.real.lengths import ensure_table

        ensure_table("sharegpt", "smollm2-135m")
    except (ImportError, ValueError):
        return None
    return {"dataset": "sharegpt", "tokenizer": "smollm2-135m"}


def service_scenario(curves: Path, lengths: dict | None = None) -> dict:
    """Vicuna-7B + LLaMA-160M on A100-80Gs, domains and learning curves from a real run; request
    lengths from ShareGPT (``lengths``) or lognormal."""
    import json

    domains = list(json.loads(curves.read_text())["domains"])  # the real stream's order
    sizes = lengths or {"prompt_tokens": {"dist": "lognormal", "mean": 256, "cv": 0.6},
                        "output_tokens": {"dist": "lognormal", "mean": 128, "cv": 0.5}}
    return {
        "seed": 0, "target": TARGET, "draft": DRAFT, "hardware": HARDWARE, "max_batch": 64, "gamma": 2,
        "workload": {"arrival": "poisson", "rate": 8.0, "num_requests": 1500, **sizes,
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
    df = pd.read_csv(table_path).copy()  # a wide sweep table comes back fragmented; one block before adding a column
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
