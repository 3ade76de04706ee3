"""Speculation methods: named bundles of scenario fields, so "plain vs a 1B draft vs an EAGLE head
vs n-gram lookup" is one axis of a sweep or a plan.

A scenario may name one with ``method`` and define its own under ``methods``::

    methods:
      draft-68m: {draft: vicuna-68m, acceptance: {alpha: 0.55}}
      eagle:     {draft: {kind: head, style: eagle}, acceptance: {alpha: 0.72}}
    method: eagle

A method's fields replace the scenario's fields of the same name (``draft``, ``gamma``,
``gamma_policy``, ``acceptance``, ``online``, …); to vary a method's own field, address it
inside the method (``--axis methods.eagle.acceptance.alpha=0.6,0.7``). Names not defined under
``methods`` are the built-ins:

- ``plain`` — no speculation (``draft: null``, ``gamma: 0``, no online updates);
- ``model:CARD`` — a separate draft model, the LLM card ``CARD``;
- ``eagle``, ``mtp``, ``medusa`` — a draft head of that style (``osdsim.cost.drafts.head_drafter``),
  proposing a chain; trees are written out under ``methods`` (``draft.tree``);
- ``ngram`` — prompt lookup (``osdsim.cost.drafts.ngram_drafter``: its default CPU cost per step);
- ``self:K`` — self-speculation with the target's first K layers.

Built-ins keep the scenario's acceptance: give each method its own (from a trace, a published
τ, ``osdsim speedup``) under ``methods``, since a head, a small model and a lookup accept very
differently. A lookup and a self draft have no model to distil, so they drop ``online``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

from osdsim.cost.drafts import HEAD_STYLES
from osdsim.safe.text import short

BUILTINS = ("plain", "model:CARD", *HEAD_STYLES, "ngram", "self:K")
METHOD_FIELDS = ("draft", "gamma", "gamma_policy", "max_gamma", "acceptance", "online", "draft_tp", "draft_dtype",
                 "draft_per_domain")


def builtin_method(name: str) -> dict:
    """The scenario fields of a built-in method (module docstring)."""
    if name == "plain":
        return {"draft": None, "gamma": 0, "online": None, "gamma_policy": None}
    if name in HEAD_STYLES:
        return {"draft": {"kind": "head", "style": name}}
    if name == "ngram":
        return {"draft": {"kind": "ngram"}, "online": None}
    kind, sep, arg = name.partition(":")
    if sep and kind == "model" and arg:
        return {"draft": arg}
    if sep and kind == "self":
        try:
            layers = int(arg)
        except ValueError:
            layers = 0
        if layers < 1:
            raise ValueError(f"method: self:K needs a positive number of layers, got {short(name)}")
        return {"draft": {"kind": "self", "layers": layers}, "online": None}
    raise ValueError(f"method: {short(name)} is neither under methods nor a built-in ({', '.join(BUILTINS)})")


def draft_shorthand(name: str) -> dict | None:
    """``draft: ngram`` / ``eagle`` / ``mtp`` / ``medusa`` / ``self:K``: the draft mapping those
    names stand for (no LLM card has these names); None for anything else (a card name)."""
    if name in HEAD_STYLES or name == "ngram" or name.startswith("self:"):
        return builtin_method(name)["draft"]
    return None


def method_fields(raw: Mapping, name) -> dict:
    """The fields method ``name`` sets: the scenario's own ``methods`` entry, else a built-in."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"method must be a method name, got {short(name)}")
    defined = raw.get("methods") or {}
    if not isinstance(defined, Mapping):
        raise ValueError(f"methods must be a mapping of name: {{scenario fields}}, got {short(defined)}")
    if name in defined:
        fields = defined[name]
        if not isinstance(fields, Mapping):
            raise ValueError(f"methods.{name} must be a mapping of scenario fields, got {short(fields)}")
        unknown = sorted(set(fields) - set(METHOD_FIELDS))
        if unknown:
            raise ValueError(f"methods.{name}.{unknown[0]}: a method sets only {', '.join(METHOD_FIELDS)}")
        fields = dict(fields)
        draft = fields.get("draft")
        if isinstance(draft, Mapping) and draft.get("kind") in ("ngram", "self"):
            fields.setdefault("online", None)
        return copy.deepcopy(fields)
    return builtin_method(name)


def expand_method(raw: Mapping) -> dict:
    """``raw`` with its ``method`` applied and ``method``/``methods`` removed (a copy)."""
    out = dict(raw)
    name = out.pop("method", None)
    if name is not None:
        fields = method_fields(out, name)
        for key, value in fields.items():
            if value is None and key in ("online", "gamma_policy"):
                out.pop(key, None)
            else:
                out[key] = value
    out.pop("methods", None)
    return out


def method_draft(raw: Mapping, name: str) -> tuple:
    """(the draft method ``name`` runs with — its own, else the scenario's, else the default card;
    None for no speculation —, the fields it sets)."""
    from osdsim.sim.scenario_fields import Scenario

    fields = method_fields(raw, name)
    return (fields["draft"] if "draft" in fields else raw.get("draft", Scenario.draft)), fields


def describe_method(raw: Mapping, name: str) -> str:
    """One line: what method ``name`` drafts with and what acceptance it assumes."""
    draft, fields = method_draft(raw, name)
    if draft is None:
        return f"{name}: no speculation"
    if isinstance(draft, Mapping):
        what = f"{draft.get('kind')} draft" + (f" ({draft['style']})" if draft.get("style") else "") + \
            (" with a tree" if draft.get("tree") else "")
    else:
        what = f"draft model {draft}"
    acc = fields.get("acceptance")
    given = "its own acceptance " + short(acc) if acc is not None else "the scenario's acceptance"
    return f"{name}: {what}, {given}"
