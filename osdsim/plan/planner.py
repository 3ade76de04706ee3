"""Plan capacity with the simulator: for plain decoding, static speculation and OSD, the fewest
replicas (and GPUs, since a replica may span tp GPUs) that meet an SLO, and the best γ and draft.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable

from osdsim.plan.search import SLO, min_replicas
from osdsim.sim.scenario_files import apply_overrides

MODES = ("plain", "spec", "osd")


def _policy_mapping(policy):
    """``--gamma-policy`` text (fixed, hf-heuristic, adaptive:THRESHOLD) → the scenario's field."""
    if policy in (None, "fixed"):
        return None
    if isinstance(policy, dict):
        return policy
    kind, _, arg = str(policy).partition(":")
    if kind == "hf-heuristic" and not arg:
        return {"kind": "hf-heuristic"}
    if kind == "adaptive":
        try:
            return {"kind": "adaptive", "threshold": float(arg or 0.3)}
        except ValueError:
            pass
    raise ValueError(f"gamma policy must be fixed, hf-heuristic or adaptive[:THRESHOLD], got {policy!r}")


def candidates(base: dict, modes=MODES, drafts=None, gammas=None, tps=None, draft_tps=None, methods=None,
               policies=None) -> list[dict]:
    """Scenario variants to plan for: one per (mode, tp, draft or method, draft_tp, γ, γ policy).

    plain: no draft, γ 0, no online updates. spec: the draft never changes (``online`` removed).
    osd: the base scenario's ``online`` section (an ``update_interval`` of 8 if it has none).
    ``tps``: the target's tensor-parallel sizes (default: the base's ``tp``); ``draft_tps``: the
    draft's (default: the base's ``draft_tp``), each kept only where it is <= tp. ``methods``
    (``osdsim.sim.scenario_methods``: the base's ``methods`` entries or built-ins) replace
    ``drafts``: a method without a draft is planned as plain, a lookup or self draft only as spec
    (nothing to distil), a tree draft at its own depth with a fixed policy. ``policies``: γ
    policies to try besides fixed (``hf-heuristic``, ``adaptive:0.3``).
    """
    gammas = list(gammas or [base.get("gamma", 5)])
    tps = list(tps or [int(base.get("tp", 1) or 1)])
    draft_tps = list(draft_tps or [int(base.get("draft_tp", 1) or 1)])
    policies = [_policy_mapping(p) for p in (policies or ["fixed"])]
    for mode in modes:
        if mode not in MODES:
            raise ValueError(f"plan mode {mode!r} is not one of {', '.join(MODES)}")
    if methods:
        from osdsim.sim.scenario_methods import method_draft

        entries = [(m, *method_draft(base, m)) for m in methods]
    else:
        entries = [(None, d, {}) for d in (drafts or [base.get("draft") or "llama-160m"])]
    out = []
    for tp in tps:
        for mode in modes:
            if mode == "plain":
                scen = copy.deepcopy(base)
                scen.pop("method", None)
                scen.update(draft=None, gamma=0, tp=tp, draft_tp=1)
                scen.pop("online", None)
                scen.pop("gamma_policy", None)
                out.append({"mode": mode, "method": "plain" if methods else None, "draft": None, "gamma": 0,
                            "gamma_policy": None, "tp": tp, "draft_tp": None, "scenario": scen})
                continue
            for method, draft, fields in entries:
                if draft is None:
                    continue  # a plain method is the plain mode's row
                kind = draft.get("kind", "model") if isinstance(draft, dict) else "model"
                if mode == "osd" and kind in ("ngram", "self"):
                    continue  # nothing to distil
                tree = draft.get("tree") if isinstance(draft, dict) else None
                combos = [(g, p) for g in gammas for p in policies]
                if tree is not None or "gamma" in fields:
                    combos = [(fields.get("gamma", gammas[0] if not isinstance(gammas[0], str) else 5), None)]
                for dtp in sorted({min(d, tp) for d in draft_tps}):
                    for gamma, policy in combos:
                        if policy is not None and gamma == "goodput":
                            continue  # a policy needs an integer γ (its start or most drafts)
                        scen = copy.deepcopy(base)
                        if method is not None:
                            scen["method"] = method
                            scen.update(gamma=gamma, tp=tp, draft_tp=dtp)
                        else:
                            scen.update(draft=draft, gamma=gamma, tp=tp, draft_tp=dtp)
                        if policy is not None:
                            scen["gamma_policy"] = policy
                        else:
                            scen.pop("gamma_policy", None)
                        if mode == "spec":
                            scen.pop("online", None)
                        else:
                            scen.setdefault("online", {"update_interval": 8})
                        label = draft if not isinstance(draft, dict) else method
                        out.append({"mode": mode, "method": method, "draft": label, "gamma": gamma,
                                    "gamma_policy": (policy or {}).get("kind", "fixed"), "tp": tp,
                                    "draft_tp": dtp, "scenario": scen})
    return out


def _gpus(scenario: dict, replicas: int) -> int:
    return replicas * int(scenario.get("tp", 1) or 1)


# Errors of a candidate that mean "this set-up cannot run" (the model does not fit its GPUs, tp
# does not divide the heads): the candidate is rejected with the message, the plan goes on.
_SETUP_ERRORS = ("tp:", "draft_tp:")


class _Hopeless(Exception):
    """A candidate no number of replicas can make feasible."""


def plan(base: dict, slo: SLO, evaluate: Callable[[dict], dict], *, modes=MODES, drafts=None, gammas=None,
         max_replicas: int = 256, on_row: Callable[[dict], None] | None = None, tps=None,
         draft_tps=None, methods=None, policies=None) -> list[dict]:
    """One row per candidate: replicas and GPUs needed (None if not met), why not, its summary.

    ``evaluate(scenario) -> summary`` runs the simulator (flat summary dict with the SLO keys,
    ``requests``, ``finished`` and, to check that the service keeps up, ``served_ratio``,
    ``offered_req_s`` and ``queue_growth_req_s``). A candidate is feasible at n replicas only if
    :meth:`SLO.violations` is empty there; ``reason`` says why a rejected row was rejected (at the
    most replicas tried). Candidates of larger tp are searched only up to the GPUs of the best
    row of their mode so far (a larger answer could not be the best). Rows also carry GPU-hours
    per day at this load and per million requests, and ``best`` marks the cheapest row of each mode
    (of each mode and method, when ``methods`` are planned).
    """
    rows = []
    best_gpus: dict[str, int] = {}
    for cand in candidates(base, modes, drafts, gammas, tps, draft_tps, methods, policies):
        seen: dict[int, dict] = {}
        tp = int(cand["tp"] or 1)
        group = (cand["mode"], cand["method"])
        row = {"mode": cand["mode"], **({"method": cand["method"]} if methods else {}), "draft": cand["draft"],
               "gamma": cand["gamma"], **({"gamma_policy": cand["gamma_policy"]} if methods or policies else {}),
               "tp": tp, "draft_tp": cand["draft_tp"]}
        cap = max_replicas
        if group in best_gpus:
            cap = min(cap, (best_gpus[group] - 1) // tp)
        if cap < 1:
            row.update(replicas=None, gpus=None, evaluations=0, feasible=False,
                       reason=f"cannot beat {best_gpus[group]} GPUs at tp {tp}")
            rows.append(row)
            if on_row:
                on_row(row)
            continue

        def meets(n: int, scen=cand["scenario"], seen=seen, tp=tp) -> bool:
            seen[n] = evaluate(apply_overrides(scen, {"replicas": n}))
            if seen[n].get("dropped"):  # a request that never fits one replica's KV cache fits none
                raise _Hopeless(f"{seen[n]['dropped']} of {seen[n].get('requests')} requests never fit a replica's "
                                f"KV cache (weights leave too little memory at tp {tp}); more replicas cannot help")
            return slo.met_by(seen[n])

        try:
            n = min_replicas(meets, cap)
        except _Hopeless as exc:
            n, row["reason"] = None, str(exc)
        except ValueError as exc:
            if not str(exc).startswith(_SETUP_ERRORS):
                raise
            n, row["reason"] = None, str(exc)
        row.update(replicas=n, gpus=None if n is None else _gpus(cand["scenario"], n))
        rate = float(cand["scenario"].get("workload", {}).get("rate", 0) or 0)
        shown = seen.get(n) if n is not None else (seen[max(seen)] if seen else None)
        if shown is not None:
            row.update({k: shown.get(k) for k in slo.bounds})
            row.update({k: shown.get(k) for k in ("served_ratio", "offered_req_s", "throughput_tok_s",
                                                    "mean_alpha")})
        if n is not None:
            row["gpu_hours_per_day"] = row["gpus"] * 24.0
            if rate > 0:
                row["gpu_hours_per_million_requests"] = row["gpus"] / (rate * 3600.0) * 1e6
            best_gpus[group] = min(best_gpus.get(group, row["gpus"]), row["gpus"])
            row["reason"] = ""
        elif "reason" not in row:
            why = "; ".join(slo.violations(shown)) if shown is not None else "not evaluated"
            limit = f"{max(seen)} replicas ({max(seen) * tp} GPUs)" if seen else "any replicas"
            row["reason"] = (f"at {limit}: {why}" if cap == max_replicas
                             else f"at {limit}, the most that could beat {best_gpus[group]} GPUs: {why}")
        row["feasible"] = n is not None
        row["evaluations"] = len(seen)
        rows.append(row)
        if on_row:
            on_row(row)
    def key(r):
        return r["mode"], r.get("method")

    for group in {key(r) for r in rows}:
        feasible = [r for r in rows if key(r) == group and r["gpus"] is not None]
        best = min(feasible, key=lambda r: (r["gpus"], r.get("latency_p99_s") or 0.0), default=None)
        for r in rows:
            if key(r) == group:
                r["best"] = r is best
    return rows


def plan_rates(base: dict, slo: SLO, evaluate: Callable[[dict], dict], rates, *, modes=MODES, drafts=None,
               gammas=None, max_replicas: int = 256,
               on_row: Callable[[float, dict], None] | None = None, tps=None, draft_tps=None, methods=None,
               policies=None) -> list[dict]:
    """:func:`plan` at each arrival rate of ``rates`` (``workload.rate`` set on ``base``); each
    row starts with its ``rate``. ``on_row(rate, row)`` sees each row as it is found."""
    if any(not float(r) > 0 for r in rates):
        raise ValueError("arrival rates must be positive")
    rows = []
    for rate in rates:
        scen = apply_overrides(base, {"workload.rate": rate})  # a float stays a float
        report = None if on_row is None else (lambda row, rate=rate: on_row(rate, row))
        for row in plan(scen, slo, evaluate, modes=modes, drafts=drafts, gammas=gammas,
                        max_replicas=max_replicas, on_row=report, tps=tps, draft_tps=draft_tps,
                        methods=methods, policies=policies):
            rows.append({"rate": rate, **row})
    return rows


def auto_tps(base: dict, base_dir: str = ".") -> list[int]:
    """Tensor-parallel sizes to search: powers of two up to the hardware card's GPUs per node that
    divide the target's heads. Sizes whose memory cannot hold the model stay in: the plan
    rejects them with the memory the model needs."""
    from osdsim.sim import load_scenario
    from osdsim.specs import load_hardware, load_model

    sc = load_scenario({k: v for k, v in base.items() if k != "tp"}, base_dir=base_dir)
    target, hw = load_model(sc.target), load_hardware(sc.hardware)
    limit = int(getattr(hw, "gpus_per_node", 8) or 8)
    return [t for t in (1, 2, 4, 8, 16, 32, 64) if t <= limit and target.num_heads % t == 0]


def assumptions_text(summary: dict, base: dict, rates=(), methods=()) -> list[str]:
    """What a plan's numbers assumed, from an evaluated summary (flattened ``assumptions.*``) and
    the base scenario: one line each, with a warning where a default decides the answer. With
    several ``rates`` the workload line names them all; with ``methods`` each states its own
    acceptance (``osdsim.sim.scenario_methods``)."""
    a = {k.split(".", 1)[1]: v for k, v in summary.items() if k.startswith("assumptions.")}
    workload = str(a.get("workload"))
    if len(rates) > 1:  # the summary names the first rate; every rate is planned the same way
        shown = ", ".join(f"{r:g}" for r in rates)
        workload = re.sub(r" at [0-9.e+-]+ req/s", f" at each rate planned ({shown} req/s)", workload)
    lines = [f"framework {a.get('framework')}, hardware {a.get('hardware')}, target {a.get('target')}"
             f"{', dtype ' + str(a['dtype']) if a.get('dtype') else ''}",
             f"workload: {workload}"]
    acc = base.get("acceptance") or {}
    model = acc.get("model", "constant") if isinstance(acc, dict) else "constant"
    if model == "constant":
        alpha = acc.get("alpha") if isinstance(acc, dict) else None
        given = "given in the scenario" if alpha is not None else "the default: set acceptance.alpha or curves"
        own = f"constant alpha {alpha if alpha is not None else 0.7} ({given})"
        note = ("under a constant alpha OSD's updates cannot raise acceptance, so osd rows only add update costs "
                "to spec's")
    else:
        own, note = f"{model} {acc.get('curves') or acc.get('trace') or ''}".rstrip(), ""
    if methods:
        from osdsim.sim.scenario_methods import describe_method

        lines.append(f"acceptance: each method's own, below (otherwise the scenario's: {own})")
        return lines + [f"method {describe_method(base, m)}" for m in methods]
    return lines + [f"acceptance: {own}" + (f"; {note}" if note else "")]
