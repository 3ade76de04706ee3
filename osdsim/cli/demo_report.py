"""The demo's Markdown report: what was run, the numbers it produced, and the figures."""

from __future__ import annotations

import os
from pathlib import Path

from osdsim.safe.atomic import write_text_atomic


def _speedup_line(r: dict) -> str:
    return (f"Speedup: {r['draft']} adapting online on {r['records']} {r['domain']} questions at γ = {r['gamma']}, each "
            f"also decoded plainly on the same machine: α {r['alpha_first']:.2f} and {r['speedup_first']:.2f}× "
            f"plain decoding over the first 50 records, α {r['alpha_last']:.2f} and {r['speedup_last']:.2f}× "
            f"over the last 50 (`traces/{r['trace']}`).")


def _md_table(rows: list[dict], floatfmt: str = ".3g") -> str:
    if not rows:
        return "(none)"
    cols = list(rows[0])

    def cell(v):
        return format(v, floatfmt) if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def _median_line(val: dict | None) -> list[str]:
    """The same held-out check with a card fitted by least absolute deviations (--statistic median)."""
    if not val:
        return []
    rep = val["replayed"]
    sp = rep.get("speedup") or {}
    return [f"- with `calibrate --statistic median` (the machine's usual speed rather than its mean): "
            f"per-record latency {_pct(rep['latency']['median_ape_pct'])} (median absolute error), throughput "
            f"{rep['throughput']['error_pct']:+.1f}%"
            + (f", speedup {sp['error_pct']:+.1f}%" if sp.get("error_pct") is not None else "")]


def _machine(val: dict) -> str:
    """How much of the per-record error was the machine's speed (see osdsim validate)."""
    out = []
    floor = (val.get("baseline") or {}).get("noise_floor") or {}
    if floor.get("median_ape_pct") is not None:
        out.append(f"identical baseline records scattered {_pct(floor['median_ape_pct'])} around their median")
    corr = val["steps"].get("draft_verify_error_correlation")
    if corr is not None:
        out.append(f"the draft's and the verify's errors per record correlate at {corr:.2f} (one factor on "
                   "both: the machine's speed while the record ran)")
    adjusted = (val.get("load_adjusted") or {}).get("latency") or {}
    if adjusted.get("median_ape_pct") is not None:
        out.append(f"scaled by each record's own baseline the error is {_pct(adjusted['median_ape_pct'])}")
    return "; " + "; ".join(out) if out else ""


def _fig(report_dir: Path, path: Path, alt: str) -> str:
    return f"![{alt}]({os.path.relpath(path, report_dir)})"


def _pct(x) -> str:
    return "n/a" if x is None else f"{x:.1f}%"


def write_report(out: Path, figures: Path, results: dict, timings: dict, curves: Path) -> Path:
    cf = results["closed_forms"]
    parts = [
        "# osdsim demo report",
        "",
        "Every number below was produced by this run; each stage calls the library functions behind an osdsim subcommand "
        "(see `osdsim demo --help`). Stage times (s): "
        + ", ".join(f"{k} {v}" for k, v in timings.items()) + ".",
        "",
        "## 1. Closed forms",
        "",
        "Walltime improvement τ/(γc+1) (Leviathan et al. 2023) by c and α (columns: γ):",
        "",
        _md_table(cf["table"].to_dict("records")),
        "",
        _fig(out, figures / "speedup_vs_alpha.png", "speedup vs alpha"),
        "",
        "Roofline speedup of Vicuna-7B + LLaMA-160M on an A100-80G at α = 0.7 as the batch grows "
        "(the verify over B·(γ+1) tokens turns compute-bound and speculation stops paying):",
        "",
        _md_table(cf["batches"].to_dict("records")),
        "",
    ]
    com = results["committed"]
    parts += [
        "## 2. Real runs: SmolLM2-135M-Instruct and drafts distilled from it (CPU)",
        "",
        "**Committed experiments** (read from `traces/`, not rerun: `bash analysis/smollm2_osd.sh` takes about "
        "3.5 hours on the 2-core development VM). A 2-layer draft built from the target's first layers with an "
        "8,192-token head, distilled on 150k tokens of ShareGPT text, serves 200 text-to-SQL questions, 200 "
        "grade-school arithmetic questions and the 164 HumanEval problems (γ = 3, greedy, each reply ending at "
        "the target's end-of-turn token or after 64 tokens): online distillation with the OSD paper's settings "
        "(AdamW, lr 1e-4, an update every 8 records), against the same draft offline-distilled on held-out "
        "questions of the first two domains (HumanEval's problems cannot be split from the stream's) and the "
        "draft left frozen. α per block of the online run, first and last 50 records:",
        "",
        _md_table(com["online_blocks"]),
        "",
        "α of the static drafts over their first 50 records per block: "
        + "; ".join(f"{label} " + ", ".join(f"{d} {a:.2f}" for d, a in alphas.items())
                    for label, alphas in com["static_alpha"].items()) + ".",
        "",
        *[line for r in com.get("speedup") or [] for line in (_speedup_line(r), "")],
        _fig(out, figures / "demo_smollm2_alpha.png", "committed alpha over records"),
        "",
        *([_fig(out, figures / "demo_smollm2_speedup.png", "committed speedup over records"), ""]
          if com.get("speedup") else []),
    ]
    if "real" in results:
        real, val = results["real"], results["loop"]["validation"]
        cal = results["loop"]["calibration"]
        rep = val["replayed"]
        parts += [
            "**Live run on this machine**: the OSD paper's recipe at demo size (the draft distilled on "
            f"{real.get('text_tokens', 16384):,} tokens of ShareGPT text, then offline on the target's replies to "
            f"{real.get('offline_prompts', 40)} held-out SQL questions, both cached, then online), target "
            f"{real['target_params']:,} parameters, "
            f"draft {real['draft_params']:,}; γ = {real['gamma']}; online distillation every "
            f"{real['online']['update_interval']} records on `{real.get('schedule', 'sql-q:24')}`; "
            "per block of 8 records:",
            "",
            _md_table(real.get("blocks", [])),
            "",
            _fig(out, figures / "demo_alpha_over_records.png", "alpha over records"),
            "",
            "## 3. Calibrate on the even records, validate on the odd ones",
            "",
            f"Fit of the CPU card to {cal['fit']['points']} step timings: median error "
            f"{100 * cal['fit']['median_abs_rel_error']:.1f}%. Held-out records, replayed with their measured "
            "acceptance:",
            "",
            f"- speedup over plain decoding: measured {rep['speedup']['measured']:.3f}×, predicted "
            f"{rep['speedup']['predicted']:.3f}× (error {_pct(rep['speedup']['error_pct'])})",
            f"- throughput: measured {rep['throughput']['measured_tok_s']:.1f} tok/s, predicted "
            f"{rep['throughput']['predicted_tok_s']:.1f} (error {_pct(rep['throughput']['error_pct'])})",
            f"- per-record latency: median absolute error {_pct(rep['latency']['median_ape_pct'])}, p90 "
            f"{_pct(rep['latency']['p90_ape_pct'])}; the per-step noise floor of this machine was "
            f"{_pct(val['steps']['noise_floor']['median_ape_pct'])}" + _machine(val),
            f"- α over records from the fitted learning curves: median absolute error "
            f"{val['alpha']['median_abs_error']:.3f}",
            *_median_line(results["loop"].get("validation_median")),
            "",
            _fig(out, figures / "demo_validate.png", "predicted vs measured"),
            "",
        ]
    svc = results["service"]
    parts += [
        "## 4. Simulated service: Vicuna-7B + LLaMA-160M on A100-80G",
        "",
        f"Learning curves from `traces/{Path(curves).name}`; Poisson arrivals, blocks of 500 records per domain; γ = 2 "
        "(the sweep and the plan below also try the goodput policy); request lengths "
        + ("drawn from ShareGPT conversations in SmolLM2 tokens (`workload.dataset: sharegpt`)"
           if results.get("lengths_from") else "lognormal (ShareGPT's table needs the real extra)")
        + ". The curves are those the SmolLM2 drafts showed above, used as a what-if for the 7B pair; OSD's "
        "gain is the distance between the first two rows. Run `osdsim run` on your own pair and point "
        "`acceptance.curves` at its trace's `.curves.json` for your answer.",
        "",
        _md_table([{"run": k, **v} for k, v in (("OSD", svc["online"]), ("static draft", svc["static"]),
                                               ("plain", svc["baseline"]))]),
        "",
        _fig(out, figures / "demo_sim_alpha.png", "simulated alpha"),
        "",
        "## 5. What-if sweep and capacity plan",
        "",
        _fig(out, figures / "demo_speedup_vs_rate.png", "speedup vs rate"),
        "",
        _md_table(results["what_if"]["rows"]),
        "",
        "Fewest A100-80Gs meeting the TPOT SLO (best γ and draft per mode):",
        "",
        _md_table(results["plan"]["best"]),
        "",
        _fig(out, figures / "demo_replicas_vs_load.png", "replicas vs load"),
        "",
    ]
    path = out / "report.md"
    write_text_atomic(path, "\n".join(parts))
    return path
