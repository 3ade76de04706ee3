"""The public fidelity suite: predict published speculative-decoding measurements from cards,
a serving framework and the published acceptance, with no per-row fitting, and score them.

Inputs are two CSVs side by side (``benchmarks/published/``): ``measurements.csv`` as published
and ``inputs.csv``, how osdsim reads each row (cards, framework, dtype, lengths, where its
acceptance comes from) or why it cannot. A row is predicted from:

- its own acceptance (α, τ or an accepted/drafted rate) — batch 1 through the closed form of
  :func:`osdsim.cost.predict.predict`, a request rate through the simulator;
- ``transfer:ID`` — α solved from row ID (the same pair and task on other hardware);
- ``curve:ID`` — α solved at row ID, the lowest request rate of the same published curve.

The proposer is a separate draft model, or (column ``drafter`` of ``inputs.csv``) an n-gram
lookup or a draft head, with the draft tree its method's reference code uses by default (column
``tree``; the trees and the constants behind them are below, each with where it was read). For a
tree, α is the one per-depth acceptance whose tree τ (:mod:`osdsim.cost.tree`, rank acceptance
1 − (1 − α)^k in the top k) equals the row's published τ.

Beside each prediction stands the bare closed form τ/(nc + 1) with c = draft parameters /
target parameters and n sequential draft forwards per step (γ for a chain, the tree's depth, one
for Medusa; c = 0 for an n-gram lookup), what a spreadsheet would say, at the same α and γ.
Every prediction lists what it assumed in ``notes``: framework, hardware, where its acceptance
came from, the proposer and its tree.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from osdsim.cost import gamma_policy as gp
from osdsim.cost.acceptance_inputs import alpha_from_rate
from osdsim.cost.predict import DEFAULT_CONTEXT, predict, solve_alpha
from osdsim.specs import ModelSpec, load_framework, load_hardware, load_model
from osdsim.validate.fidelity_methods import (  # noqa: F401  (re-exported: the suite's trees and constants)
    DYNAMIC_TREES,
    EAGLE1_MC_SIM_7B_63,
    EAGLE2_DEPTH,
    EAGLE2_TOP_K,
    EAGLE2_TOTAL_TOKEN,
    MEDUSA_MC_SIM_7B_63,
    PLD_NUM_PRED_TOKENS,
    SPECBENCH_MEDUSA_HEADS,
    TREES,
    alpha_for_tree_tau,
    drafter_note,
    drafter_of,
    eagle2_tree,
    tree_nodes,
    tree_note,
    tree_tau,
)

SIM_REQUESTS = 1500  # requests per simulated point of a request-rate curve (enough for a steady state)
SHAREGPT_LENGTHS = {"dist": "lognormal", "mean": 256, "cv": 1.0}  # tokens, when a source names ShareGPT only
GAMMA_DEFAULT = 5  # drafts per step where a row does not say (vLLM's and transformers' common default)

@dataclass
class Case:
    """One published row and how osdsim reads it."""

    id: str
    source: str
    measured: float
    row: dict
    inputs: dict
    predicted: float = math.nan
    bare: float = math.nan
    alpha: float = math.nan
    notes: list[str] = field(default_factory=list)

    @property
    def skip(self) -> str:
        return self.inputs.get("skip", "")

    def number(self, key: str, default=None):
        """A numeric input; a range ``a-b`` (uniform lengths) reads as its mean."""
        text = self.inputs.get(key) or self.row.get(key) or ""
        if "-" in text.strip("-"):
            low, high = (float(x) for x in text.split("-"))
            return (low + high) / 2
        return float(text) if text else default

    def lengths(self, key: str):
        """A scenario's token-length field: fixed, uniform ``a-b``, or ShareGPT-like when unknown."""
        text = self.inputs.get(key) or ""
        if "-" in text.strip("-"):
            low, high = (int(float(x)) for x in text.split("-"))
            return {"dist": "uniform", "low": low, "high": high}
        return float(text) if text else SHAREGPT_LENGTHS


def load_suite(folder: str | Path) -> list[Case]:
    """The rows of ``measurements.csv`` with their ``inputs.csv`` readings (same ids)."""
    folder = Path(folder)
    with open(folder / "measurements.csv", newline="") as f:
        rows = {r["id"]: r for r in csv.DictReader(f)}
    with open(folder / "inputs.csv", newline="") as f:
        inputs = {r["id"]: r for r in csv.DictReader(f)}
    missing = sorted(set(rows) - set(inputs))
    if missing:
        raise ValueError(f"{folder / 'inputs.csv'}: no reading for {', '.join(missing[:5])} "
                         f"(run benchmarks/published/make_inputs.py)")
    return [Case(i, r["source"], float(r["measured_speedup"]), r, inputs[i]) for i, r in rows.items()]


def _cards(case: Case, alpha: float | None = None):
    i = case.inputs
    target = load_model(i["target_card"])
    return target, drafter_of(case, target, alpha), load_hardware(i["hardware_card"])


def _setting(case: Case, frameworks: dict) -> dict:
    """Keyword arguments of :func:`predict` for this row."""
    i = case.inputs
    prompt, output = case.number("prompt_tokens"), case.number("output_tokens")
    context = DEFAULT_CONTEXT if prompt is None and output is None else (prompt or 0.0) + (output or 0.0) / 2
    policy = i.get("gamma_policy") or None
    if policy == "tree" and i.get("tree"):
        policy = None  # a tree has no gamma policy: its nodes are the drafts
    elif policy not in (None, "fixed", "hf-heuristic"):
        policy = None  # a policy osdsim cannot model yet: the framework's default, stated in the notes
        case.notes.append(f"gamma policy {i['gamma_policy']} priced as the framework's default")
    return {"framework": frameworks.get(i["framework_card"], i["framework_card"]), "batch": int(case.number("batch", 1)),
            "gamma": int(case.number("gamma", GAMMA_DEFAULT)), "policy": policy, "context": context,
            "tp": int(case.number("tp", 1)), "draft_tp": int(case.number("draft_tp", 1)),
            "dtype": i["dtype"] or None, "draft_dtype": i["draft_dtype"] or None}


def own_alpha(case: Case, setting: dict) -> float:
    """α from the row's own published acceptance (see :mod:`osdsim.cost.acceptance_inputs`)."""
    kind, value, gamma = case.inputs["acceptance"], float(case.inputs["rate"]), setting["gamma"]
    if case.inputs.get("tree"):
        if kind != "tau":
            raise ValueError(f"a tree row's acceptance must be its published tau, got {kind}")
        return alpha_for_tree_tau(value, case.inputs["tree"])
    if kind == "alpha":
        return value
    if kind == "tau":
        return gp.alpha_for_tokens(value, setting["policy"] or "fixed", gamma)
    return alpha_from_rate(value, gamma, "position" if kind == "rate-position" else "prefix")


def _simulated(case: Case, setting: dict, alpha: float) -> float:
    from osdsim.cost.model import RooflineCost
    from osdsim.sim import simulate

    i = case.inputs
    scenario = {
        "target": i["target_card"], "draft": i["draft_card"], "hardware": i["hardware_card"],
        "framework": i["framework_card"],
        "tp": setting["tp"], "draft_tp": setting["draft_tp"], "dtype": setting["dtype"],
        "draft_dtype": setting["draft_dtype"], "gamma": setting["gamma"], "max_batch": 256,
        "workload": {"arrival": "poisson", "rate": float(case.row["qps"]), "num_requests": SIM_REQUESTS,
                     "prompt_tokens": case.lengths("prompt_tokens"), "output_tokens": case.lengths("output_tokens")},
        "acceptance": {"model": "constant", "alpha": alpha},
    }
    cost = None
    if not isinstance(setting["framework"], str):  # a card with leave-one-source-out values
        cost = RooflineCost(load_hardware(i["hardware_card"]), setting["dtype"], setting["tp"], setting["framework"])
    key = (repr(sorted((k, repr(v)) for k, v in scenario.items() if k != "acceptance")), id(setting["framework"]))
    if key not in _BASELINES:  # plain decoding does not depend on alpha: run it once per set-up
        plain = simulate(dict(scenario, draft=None, gamma=0), cost=cost, baseline=False)
        _BASELINES[key] = plain.summary["latency_mean_s"]
    mine = simulate(scenario, cost=cost, baseline=False).summary["latency_mean_s"]
    return float(_BASELINES[key] / mine)


_BASELINES: dict = {}


def _speedup(case: Case, setting: dict, alpha: float) -> float:
    if case.row.get("qps"):
        if (case.inputs.get("drafter") or "model") != "model" or case.inputs.get("tree"):
            raise ValueError("request-rate rows are simulated with a draft model only")
        return _simulated(case, setting, alpha)
    target, draft, hw = _cards(case, alpha)
    return predict(alpha, target, draft, hw, **setting).speedup


def _solve(case: Case, setting: dict) -> float:
    """α that makes this (anchor) row's prediction equal its measurement."""
    if case.row.get("qps"):
        lo, hi = 0.0, 1.0
        if not _simulated(case, setting, 0.0) <= case.measured <= _simulated(case, setting, 1.0):
            raise ValueError(f"{case.id}: no alpha in [0, 1] explains {case.measured}")
        for _ in range(14):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if _simulated(case, setting, mid) < case.measured else (lo, mid)
        return 0.5 * (lo + hi)
    if case.inputs.get("tree") in DYNAMIC_TREES:
        raise ValueError(f"{case.id}: alpha is not solved from a speedup through a dynamic tree")
    target, draft, hw = _cards(case)
    return solve_alpha(case.measured, target, draft, hw, **setting)


def bare_closed_form(case: Case, alpha: float, gamma: int) -> float:
    """τ/(nc + 1) with c = draft params / target params and n sequential draft forwards per step
    (Leviathan et al. 2023, Theorem 3.8: n = γ for a chain; a tree's depth, one for Medusa's heads;
    c = 0 for an n-gram lookup, which has no model)."""
    target, draft, _ = _cards(case, alpha)
    if isinstance(draft, ModelSpec):
        return gp.expected_tokens(alpha, gamma) / (gamma * draft.params / target.params + 1.0)
    c = draft.model.params / target.params if draft.model is not None else 0.0
    if draft.tree is not None:
        return tree_tau(draft.tree, alpha) / (len(draft.steps(gamma)) * c + 1.0)
    return gp.expected_tokens(alpha, gamma) / (gamma * c + 1.0)


def _acceptance_note(case: Case, setting: dict, alpha: float) -> str:
    kind, value = case.inputs["acceptance"], case.inputs["rate"]
    if ":" in kind:
        how, anchor = kind.split(":", 1)
        what = "the same task on other hardware" if how == "transfer" else "the lowest request rate of its curve"
        return f"alpha {alpha:.3f} solved from {anchor}'s measured speedup ({what})"
    if case.inputs.get("tree"):
        return f"published tau {value} -> per-depth alpha {alpha:.3f} on the tree"
    name = {"alpha": "alpha", "tau": "tau", "rate-prefix": "accepted/drafted rate (prefix)",
            "rate-position": "accepted/drafted rate (per position)"}.get(kind, kind)
    policy = setting["policy"] or "the framework's default"
    return f"published {name} {value} -> alpha {alpha:.3f} (gamma {setting['gamma']}, {policy} policy)"


def _assumptions(case: Case, setting: dict, alpha: float) -> list[str]:
    """What a prediction assumed, in words (framework, hardware, acceptance, proposer, tree)."""
    i = case.inputs
    target, draft, hw = _cards(case, alpha)
    fw = setting["framework"]
    fw_name = fw if isinstance(fw, str) else fw.name
    if case.row.get("qps"):
        load = (f"simulated at {case.row['qps']} req/s ({SIM_REQUESTS} requests; prompt tokens "
                f"{case.lengths('prompt_tokens')}, output tokens {case.lengths('output_tokens')})")
    else:
        load = f"batch {setting['batch']}, context {setting['context']:g}"
    out = [f"framework {fw_name}, hardware {hw.name}, {i['dtype'] or 'fp16'}, tp {setting['tp']}, {load}",
           f"acceptance: {_acceptance_note(case, setting, alpha)}",
           f"proposer: {drafter_note(case, target, draft, setting)}"]
    if i.get("tree"):
        out.append(tree_note(case, draft) + "; rank acceptance 1 - (1 - alpha)^k in the top k assumed at every depth")
    if case.source == "spec-bench" and not isinstance(draft, ModelSpec):
        out.append("the method's own research loop priced with the hf-eager card's per-step speculation costs "
                   "(set for transformers' assisted generation)")
    return out


def predict_suite(cases: list[Case], frameworks: dict | None = None, only=None) -> list[Case]:
    """Fill ``predicted``, ``bare`` and ``alpha`` of every predictable case (``only``: a set of
    ids to predict, e.g. one source's); ``frameworks`` maps card names to specs that replace
    them (a leave-one-source-out fit)."""
    frameworks = frameworks or {}
    by_id = {c.id: c for c in cases}
    solved: dict[str, float] = {}
    for case in cases:
        if case.skip or (only is not None and case.id not in only):
            continue
        case.predicted, case.bare, case.alpha, case.notes = math.nan, math.nan, math.nan, []  # a fresh reading
        setting = _setting(case, frameworks)
        kind = case.inputs["acceptance"]
        try:
            if ":" in kind:
                anchor_id = kind.split(":", 1)[1]
                if anchor_id not in solved:
                    anchor = by_id[anchor_id]
                    solved[anchor_id] = _solve(anchor, _setting(anchor, frameworks))
                case.alpha = solved[anchor_id]
            else:
                case.alpha = own_alpha(case, setting)
            case.predicted = _speedup(case, setting, case.alpha)
            case.bare = bare_closed_form(case, case.alpha, setting["gamma"])
            case.notes.extend(_assumptions(case, setting, case.alpha))
        except ValueError as exc:
            case.notes.append(f"not predicted: {exc}")
    return cases


def loso_frameworks(cases: list[Case], source: str) -> dict:
    """Framework cards to score ``source``'s rows with: each card's ``loso`` values for that source
    where it has them (numbers fitted to the source's rows, derived again without them)."""
    out = {}
    for name in {c.inputs["framework_card"] for c in cases if c.source == source and not c.skip}:
        try:
            fw = load_framework(name)
        except ValueError:  # an unknown card: each of its rows says so when predicted
            continue
        if source in fw.loso:
            out[name] = replace(fw, name=f"{fw.name} (without {source})", **fw.loso[source])
    return out


def predict_loso(cases: list[Case]) -> list[Case]:
    """Every predictable case, each source's rows with the frameworks of :func:`loso_frameworks`."""
    for source in sorted({c.source for c in cases}):
        only = {c.id for c in cases if c.source == source}
        predict_suite(cases, loso_frameworks(cases, source), only)
    return cases
