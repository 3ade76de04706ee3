"""The scenario's ``draft`` (what proposes) and ``gamma_policy`` (how many it proposes) fields.

``draft`` is a card name (a separate draft model, as always) or a mapping with a ``kind``::

    draft: llama-160m                                   # a separate model (kind: model)
    draft: {kind: model, card: llama-3.2-1b}
    draft: {kind: ngram, cpu_per_step_us: 200, cpu_per_seq_us: 20, match_rate: 0.6}
    draft: {kind: head, style: eagle, layers: 1, vocab: 32000, tree: {width: 2, depth: 4}}
    draft: {kind: head, style: medusa, heads: 4, tree: [[0], [1], [0, 0], [0, 1]]}
    draft: {kind: self, layers: 8}

``tree``: Medusa/EAGLE node paths (lists of candidate ranks), ``{width, depth}`` for a full
tree, or a reference implementation's default by name (``eagle-mc_sim_7b_63``,
``medusa-mc_sim_7b_63``: ``osdsim.cost.tree.NAMED_TREES``). ``gamma_policy`` (default: from ``gamma``, an integer or "goodput")::

    gamma_policy: {kind: hf-heuristic}                  # gamma: its start value
    gamma_policy: {kind: confidence, pass_rate: 0.8, alpha_passed: 0.85}   # gamma: most drafts
    gamma_policy: {kind: adaptive, threshold: 0.3}      # gamma: most drafts

Errors name the dotted field (``draft.kind``, ``gamma_policy.pass_rate``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from osdsim.cost import drafts
from osdsim.cost import tree as trees

POLICY_KINDS = ("fixed", "goodput", "hf-heuristic", "confidence", "adaptive")
_DRAFT_KEYS = {"kind", "card", "style", "layers", "heads", "vocab", "tree", "cpu_per_step_us", "cpu_per_seq_us",
               "match_rate"}
_POLICY_KEYS = {"kind", "pass_rate", "alpha_passed", "threshold"}


@dataclass(frozen=True)
class DraftSpec:
    """A non-card draft (see the module docstring); ``card`` for kind model."""

    kind: str = "model"
    card: object = None
    style: str = "eagle"
    layers: int = 1
    heads: int = 4
    vocab: int | None = None
    tree: tuple | None = None
    cpu_per_step_s: float = 0.0
    cpu_per_seq_s: float = 0.0
    match_rate: float = 1.0

    @property
    def name(self) -> str:
        if self.kind == "model":
            return getattr(self.card, "name", self.card)
        label = {"head": self.style, "self": f"self-{self.layers}", "ngram": "ngram"}[self.kind]
        return label + (f"-tree{len(self.tree)}" if self.tree else "")


@dataclass(frozen=True)
class PolicySpec:
    kind: str = "fixed"
    pass_rate: float = 1.0
    alpha_passed: float | None = None
    threshold: float = 0.5


def _number(value, path: str, low: float, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= float(value) <= high:
        raise ValueError(f"{path} must be a number in [{low:g}, {high:g}], got {str(value)[:40]!r}")
    return float(value)


def _count(value, path: str, low: int = 1, high: int = 4096) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or not low <= value <= high:
        raise ValueError(f"{path} must be an integer in {low}..{high}, got {str(value)[:40]!r}")
    return int(value)


def parse_tree(value, path: str = "draft.tree") -> tuple:
    if isinstance(value, str):
        try:
            return trees.named(value)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
    if isinstance(value, Mapping):
        unknown = set(value) - {"width", "depth"}
        if unknown:
            raise ValueError(f"{path}.{sorted(unknown)[0]} is not a tree field (width, depth)")
        return trees.full(_count(value.get("width", 1), f"{path}.width", 1, 64),
                          _count(value.get("depth", 1), f"{path}.depth", 1, 64))
    if not isinstance(value, list) or not all(isinstance(n, list) for n in value):
        raise ValueError(f"{path} must be a list of rank paths (e.g. [[0], [1], [0, 0]]), {{width, depth}} or a "
                         f"named tree ({', '.join(trees.NAMED_TREES)})")
    try:
        return trees.check([[_count(r, f"{path} rank", 0, 4095) for r in n] for n in value])
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def parse_draft(value):
    """A card name (or object), a :class:`DraftSpec`, or None."""
    if not isinstance(value, Mapping):
        return value
    unknown = set(value) - _DRAFT_KEYS
    if unknown:
        raise ValueError(f"draft.{sorted(unknown)[0]} is not a draft field; allowed: {', '.join(sorted(_DRAFT_KEYS))}")
    kind = value.get("kind", "model")
    if kind not in drafts.KINDS:
        raise ValueError(f"draft.kind must be one of {', '.join(drafts.KINDS)}, got {str(kind)[:40]!r}")
    if kind == "model" and not isinstance(value.get("card"), str):
        raise ValueError("draft.card must name the draft model's card when draft.kind is model")
    style = value.get("style", "eagle")
    if style not in drafts.HEAD_STYLES:
        raise ValueError(f"draft.style must be one of {', '.join(drafts.HEAD_STYLES)}, got {str(style)[:40]!r}")
    return DraftSpec(
        kind=kind, card=value.get("card"), style=style,
        layers=_count(value.get("layers", 1), "draft.layers", 1, 512),
        heads=_count(value.get("heads", 4), "draft.heads", 1, 64),
        vocab=None if value.get("vocab") is None else _count(value["vocab"], "draft.vocab", 1, 10_000_000),
        tree=None if value.get("tree") is None else parse_tree(value["tree"]),
        cpu_per_step_s=_number(value.get("cpu_per_step_us", 0), "draft.cpu_per_step_us", 0, 1e6) * 1e-6,
        cpu_per_seq_s=_number(value.get("cpu_per_seq_us", 0), "draft.cpu_per_seq_us", 0, 1e6) * 1e-6,
        match_rate=_number(value.get("match_rate", 1.0), "draft.match_rate", 0.0, 1.0))


def parse_policy(value) -> PolicySpec | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = {"kind": value}
    if not isinstance(value, Mapping):
        raise ValueError(f"gamma_policy must be a policy name or a mapping, got {str(value)[:40]!r}")
    unknown = set(value) - _POLICY_KEYS
    if unknown:
        raise ValueError(f"gamma_policy.{sorted(unknown)[0]} is not a policy field")
    kind = value.get("kind", "fixed")
    if kind not in POLICY_KINDS:
        raise ValueError(f"gamma_policy.kind must be one of {', '.join(POLICY_KINDS)}, got {str(kind)[:40]!r}")
    alpha_passed = value.get("alpha_passed")
    return PolicySpec(kind, _number(value.get("pass_rate", 1.0), "gamma_policy.pass_rate", 0.0, 1.0),
                      None if alpha_passed is None else _number(alpha_passed, "gamma_policy.alpha_passed", 0.0, 1.0),
                      _number(value.get("threshold", 0.5), "gamma_policy.threshold", 0.0, 1.0))


def build_drafter(draft, target, load_model):
    """The cost model's :class:`~osdsim.cost.drafts.Drafter` for the scenario's ``draft``."""
    if not isinstance(draft, DraftSpec):
        return drafts.model_drafter(load_model(draft))
    if draft.kind == "model":
        return drafts.model_drafter(load_model(draft.card), draft.tree)
    if draft.kind == "ngram":
        return drafts.ngram_drafter(draft.cpu_per_step_s, draft.cpu_per_seq_s, draft.match_rate)
    if draft.kind == "self":
        return drafts.self_drafter(target, draft.layers, draft.tree)
    return drafts.head_drafter(target, draft.style, draft.layers, draft.heads, draft.vocab, draft.tree)


def check_draft(scenario) -> None:
    """What a parsed scenario's draft and γ policy cannot do together (errors name the field)."""
    draft, policy = scenario.draft, scenario.gamma_policy
    if isinstance(draft, DraftSpec):
        if draft.kind == "ngram" and scenario.online is not None:
            raise ValueError("online: an n-gram lookup has no model to distil (draft.kind is ngram)")
        if draft.tree is not None and (scenario.gamma == "goodput" or (policy and policy.kind != "fixed")):
            raise ValueError("gamma_policy: a tree draft proposes its tree every step (use gamma_policy fixed)")
    if policy is not None and policy.kind != "goodput" and scenario.gamma == "goodput":
        raise ValueError(f"gamma_policy: {policy.kind} needs an integer gamma (its start or most drafts), "
                         "got gamma: goodput")
