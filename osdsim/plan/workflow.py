"""The workflow behind ``osdsim plan``: a scenario file, overrides and candidates in, the plan's
table and the assumptions it rests on out (``osdsim.plan.planner`` does the search)."""

from __future__ import annotations

import sys
from pathlib import Path


def plan_table(scenario: str | None, slo, *, rates=(), overrides=(), modes=("plain", "spec", "osd"),
               drafts=None, gammas=None, max_replicas: int = 128, out: str | None = None, tps=None,
               draft_tps=None, progress: bool | None = None, methods=None, policies=None):
    """The plan's rows as a DataFrame (written to ``out`` when given), and the assumptions it rests
    on (lines of text); progress on stderr. ``tps`` None: every tp that could serve
    (:func:`osdsim.plan.planner.auto_tps`); ``draft_tps`` None: 1 and each tp."""
    import pandas as pd

    from osdsim.plan import plan_rates
    from osdsim.sim.scenario_files import apply_overrides, parse_overrides, read_scenario_file
    from osdsim.sweep.files import write_table
    from osdsim.sweep.runner import simulate_evaluator

    # --set means what it means for `osdsim simulate`: dotted key, value parsed as a YAML scalar.
    base = apply_overrides(read_scenario_file(scenario) if scenario else {}, parse_overrides(overrides))
    base_dir = str(Path(scenario).parent) if scenario else "."
    rates = list(rates) or [float(base.get("workload", {}).get("rate", 2.0))]

    from osdsim.plan.planner import assumptions_text, auto_tps

    tps = tps or auto_tps(base, base_dir)
    draft_tps = draft_tps or sorted({1, *tps})
    show = sys.stderr.isatty() if progress is None else progress
    evaluated: list[dict] = []

    def evaluate(scen):
        summary = simulate_evaluator(scen, baseline=False, base_dir=base_dir)
        if not evaluated or (len(evaluated) == 1 and summary.get("assumptions.draft")):
            evaluated.append(summary)  # the first summary, and the first of a speculative set-up
        return summary

    def report(rate, row):
        if show:
            dtp = f" draft_tp={row['draft_tp']}" if row.get("draft_tp") else ""
            what = f"method={row['method']}" if row.get("method") else f"draft={row['draft']}"
            policy = f" policy={row['gamma_policy']}" if row.get("gamma_policy") not in (None, "fixed") else ""
            sys.stderr.write(f"plan: rate {rate:g}/s {row['mode']} tp={row['tp']} {what}{dtp} "
                             f"gamma={row['gamma']}{policy}: {row['replicas']} replicas"
                             f"{' (' + row['reason'] + ')' if row.get('reason') else ''}\n")

    rows = plan_rates(base, slo, evaluate, rates, modes=modes, drafts=drafts, gammas=gammas,
                      max_replicas=max_replicas, on_row=report, tps=tps, draft_tps=draft_tps, methods=methods,
                      policies=policies)
    df = pd.DataFrame(rows)
    if evaluated:  # what the plan assumed, as columns: `osdsim plot replicas-load` titles with them
        for key in ("target", "hardware", "framework", "acceptance"):
            df[f"assumptions.{key}"] = evaluated[-1].get(f"assumptions.{key}")
    if out:
        write_table(df, Path(out))
    assumed = assumptions_text(evaluated[0], base, rates, methods or ()) if evaluated else []
    gammas_shown = ", ".join(str(g) for g in (gammas or [base.get("gamma", 5)]))
    policies_shown = ", ".join(["fixed", *(p for p in (policies or []) if p != "fixed")])
    assumed.append(f"gamma policies: {policies_shown}, at gamma {gammas_shown} (goodput: per-step best); tp searched: "
                   f"{', '.join(map(str, tps))}; draft_tp: {', '.join(map(str, draft_tps))}")
    assumed.append(f"feasible: served rate >= {1 - slo.rate_tolerance:.0%} of the offered rate, queue growing by "
                   f"<= {slo.rate_tolerance:.0%} of it, >= {slo.min_finished:.1%} of requests finished, and "
                   + ", ".join(f"{k} <= {v:g}" for k, v in slo.bounds.items()))
    return df, assumed
