"""Plan capacity with the simulator: for plain decoding, static speculation and OSD, the fewest
replicas (and GPUs, since a replica may span tp GPUs) that meet an SLO, and the best γ and draft.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from osdsim.plan.search import SLO, min_replicas
from osdsim.sim.scenario_files import apply_overrides

MODES = ("plain", "spec", "osd")


def candidates(base: dict, modes=MODES, drafts=None, gammas=None) -> list[dict]:
    """Scenario variants to plan for: one per (mode, draft, γ).

    plain: no draft, γ 0, no online updates. spec: the draft never changes (``online`` removed).
    osd: the base scenario's ``online`` section (an ``update_interval`` of 8 if it has none).
    """
    drafts = list(drafts or [base.get("draft") or "llama-160m"])
    gammas = list(gammas or [base.get("gamma", 5)])
    out = []
    for mode in modes:
        if mode not in MODES:
            raise ValueError(f"plan mode {mode!r} is not one of {', '.join(MODES)}")
        if mode == "plain":
            scen = copy.deepcopy(base)
            scen.update(draft=None, gamma=0)
            scen.pop("online", None)
            out.append({"mode": mode, "draft": None, "gamma": 0, "scenario": scen})
            continue
        for draft in drafts:
            for gamma in gammas:
                scen = copy.deepcopy(base)
                scen.update(draft=draft, gamma=gamma)
                if mode == "spec":
                    scen.pop("online", None)
                else:
                    scen.setdefault("online", {"update_interval": 8})
                out.append({"mode": mode, "draft": draft, "gamma": gamma, "scenario": scen})
    return out


def _gpus(scenario: dict, replicas: int) -> int:
    return replicas * int(scenario.get("tp", 1) or 1)


def plan(base: dict, slo: SLO, evaluate: Callable[[dict], dict], *, modes=MODES, drafts=None, gammas=None,
         max_replicas: int = 256, on_row: Callable[[dict], None] | None = None) -> list[dict]:
    """One row per candidate: replicas and GPUs needed (None if not met by ``max_replicas``), its summary.

    ``evaluate(scenario) -> summary`` runs the simulator (flat summary dict with the SLO keys,
    ``requests`` and ``finished``). Rows also carry GPU-hours per day at this load and per
    million requests, and ``best`` marks the cheapest row of each mode.
    """
    rows = []
    for cand in candidates(base, modes, drafts, gammas):
        seen: dict[int, dict] = {}

        def meets(n: int, scen=cand["scenario"], seen=seen) -> bool:
            seen[n] = evaluate(apply_overrides(scen, {"replicas": n}))
            return slo.met_by(seen[n])

        n = min_replicas(meets, max_replicas)
        row = {"mode": cand["mode"], "draft": cand["draft"], "gamma": cand["gamma"], "replicas": n,
               "gpus": None if n is None else _gpus(cand["scenario"], n)}
        rate = float(cand["scenario"].get("workload", {}).get("rate", 0) or 0)
        if n is not None:
            summary = seen[n]
            row.update({k: summary.get(k) for k in slo.bounds})
            row["throughput_tok_s"] = summary.get("throughput_tok_s")
            row["gpu_hours_per_day"] = row["gpus"] * 24.0
            if rate > 0:
                row["gpu_hours_per_million_requests"] = row["gpus"] / (rate * 3600.0) * 1e6
        row["evaluations"] = len(seen)
        rows.append(row)
        if on_row:
            on_row(row)
    for mode in {r["mode"] for r in rows}:
        feasible = [r for r in rows if r["mode"] == mode and r["gpus"] is not None]
        best = min(feasible, key=lambda r: (r["gpus"], r.get("latency_p99_s") or 0.0), default=None)
        for r in rows:
            if r["mode"] == mode:
                r["best"] = r is best
    return rows


def plan_rates(base: dict, slo: SLO, evaluate: Callable[[dict], dict], rates, *, modes=MODES, drafts=None,
               gammas=None, max_replicas: int = 256,
               on_row: Callable[[float, dict], None] | None = None) -> list[dict]:
    """:func:`plan` at each arrival rate of ``rates`` (``workload.rate`` set on ``base``); each
    row starts with its ``rate``. ``on_row(rate, row)`` sees each row as it is found."""
    if any(not float(r) > 0 for r in rates):
        raise ValueError("arrival rates must be positive")
    rows = []
    for rate in rates:
        scen = apply_overrides(base, {"workload.rate": rate})  # a float stays a float
        report = None if on_row is None else (lambda row, rate=rate: on_row(rate, row))
        for row in plan(scen, slo, evaluate, modes=modes, drafts=drafts, gammas=gammas,
                        max_replicas=max_replicas, on_row=report):
            rows.append({"rate": rate, **row})
    return rows
