"""Seconds and FLOPs of one serving iteration, priced by a CostModel and memoised.

A speculative step is priced by :func:`osdsim.cost.step.step_cost` (γ draft forwards, a verify
over γ+1 tokens per sequence, the framework's per-iteration costs) at the batch's mean context;
γ = 0 is plain decoding. Attention cost and KV traffic are linear in the context, so pricing at
the mean context is exact for the roofline; the mean is rounded to ``bucket`` tokens so that the
memo hits (a 16-token bucket moves a 7B decode by < 0.1%).
"""

from __future__ import annotations

import numpy as np

from osdsim.cost.drafts import Drafter
from osdsim.cost.measured import MeasuredCost
from osdsim.cost.model import ConstantCost, CostModel, RooflineCost
from osdsim.cost.roofline import kv_capacity_tokens, weight_bytes
from osdsim.cost.spare import TRAIN_FLOPS_PER_PARAM_TOKEN
from osdsim.cost.step import proposal_price, step_cost
from osdsim.sim.scenario import Scenario
from osdsim.sim.scenario_draft import build_drafter
from osdsim.specs import ModelSpec, load_hardware, load_model


def build_cost(scenario: Scenario) -> CostModel:
    """The scenario's cost model (``cost.model``, see ``sim.scenario.COST_MODELS``): constant
    seconds, the roofline on its hardware card, or the card's measured table with the roofline
    outside it."""
    spec = scenario.cost
    if spec.model == "constant":
        return ConstantCost(dict(spec.forward_s), capacity=spec.capacity_flops_per_s,
                            update_s_per_token=spec.update_s_per_token)
    hw = hardware(scenario)
    if spec.model != "roofline":
        why = _table_does_not_apply(scenario, hw, strict=spec.model == "measured")
        if why is None:
            return MeasuredCost(hw, dtype=scenario.dtype, framework=scenario.framework)
        if spec.model == "measured":
            raise ValueError(f"cost.model measured: {why}")
    return RooflineCost(hw, dtype=scenario.dtype, tp=scenario.tp, framework=scenario.framework)


def _table_does_not_apply(scenario: Scenario, hw, strict: bool = False) -> str | None:
    if not hw.measured and not hw.measured_updates:
        return f"hardware card {hw.name} has no measured table (write one with osdsim calibrate --out)"
    if strict:
        timed = {row[0] for row in hw.measured}
        missing = [m.name for m in models(scenario) if m is not None and m.name not in timed]
        if missing:
            return (f"hardware card {hw.name} has no measured forwards of {', '.join(missing)} "
                    f"(its table has {', '.join(sorted(timed)) or 'none'})")
    if scenario.tp != 1:
        return f"the measured table is for one device, the scenario has tp {scenario.tp}"
    if scenario.dtype is not None and scenario.dtype != hw.default_dtype:
        return f"the measured table ran in {hw.default_dtype}, the scenario asks for {scenario.dtype}"
    return None


def kv_tokens(scenario: Scenario, target: ModelSpec, draft: Drafter | None) -> float:
    """KV-cache tokens per replica: the override, else what the card's memory holds; an error
    saying what is needed when the weights leave no room at all."""
    if scenario.kv_tokens is not None:
        return float(scenario.kv_tokens)
    hw = hardware(scenario)
    draft_tp = draft_parallelism(scenario, draft)
    tokens = kv_capacity_tokens(target, hw, tp=scenario.tp, dtype=scenario.dtype, draft=draft,
                                reserve_fraction=scenario.kv_reserve, draft_tp=draft_tp,
                                draft_dtype=scenario.draft_dtype)
    if tokens < 1:
        dtype = scenario.dtype or hw.default_dtype
        need = weight_bytes(target, dtype) / scenario.tp + (
            draft.weight_bytes(scenario.draft_dtype or dtype) / draft_tp if draft is not None else 0.0)
        usable = hw.memory_bytes * (1 - scenario.kv_reserve)
        raise ValueError(f"tp: {target.name}{' + ' + draft.name if draft is not None else ''} does not fit "
                         f"on {hw.name}: {need / 1e9:.1f} GB of {dtype} weights per GPU at tp {scenario.tp}, "
                         f"{usable / 1e9:.1f} GB usable per GPU (kv_reserve {scenario.kv_reserve}); "
                         f"raise tp, use a larger card or a smaller dtype")
    return tokens


MIXED_BUCKET = 64  # tokens: memo bucket of context and prompt tokens in fused iterations


class Pricer:
    """Memoised step and prefill prices for one (target, draft) pair on one replica;
    ``draft_cost`` prices the draft's forwards (its own tensor parallelism), default ``cost``."""

    def __init__(self, cost: CostModel, target: ModelSpec, draft: Drafter | None, bucket: int,
                 draft_cost: CostModel | None = None):
        self.cost, self.target, self.draft, self.bucket = cost, target, draft, bucket
        self.draft_cost = draft_cost or cost
        # A separate draft model and a head keep KV caches of their own, filled at prefill.
        self.prefill_model = draft.model if draft is not None and draft.kind in ("model", "head") else None
        self.capacity = float(cost.capacity_flops_per_s())
        self._steps: dict[tuple[int, int, int], tuple[float, float]] = {}
        self._prefills: dict[tuple[int, int], tuple[float, float]] = {}
        self._mixed: dict[tuple, tuple[float, float]] = {}
        self._each: dict[tuple, tuple[float, float]] = {}
        self._updates: dict[int, float] = {}

    def step(self, batch: int, gamma: int, context: float) -> tuple[float, float]:
        """(seconds, FLOPs) of one speculative step (γ = 0: a plain decode step)."""
        key = (batch, gamma, int(context / self.bucket + 0.5))
        hit = self._steps.get(key)
        if hit is None:
            hit = self._steps[key] = step_cost(self.cost, self.target, self.draft if gamma else None, batch, gamma,
                                               key[2] * self.bucket, self.draft_cost)
        return hit

    def step_each(self, batch: int, drafts, forwards, context: float) -> tuple[float, float]:
        """(seconds, FLOPs) of a step in which sequence s drafts ``drafts[s]`` tokens over
        ``forwards[s]`` draft forwards (per-sequence policies, n-gram matches): draft forward i
        runs for the sequences still drafting, the verify scores every sequence's drafts + 1."""
        top = int(forwards.max()) if len(forwards) else 0
        still = tuple(int(np.count_nonzero(forwards >= i)) for i in range(1, top + 1))
        verified = int(drafts.sum()) + batch
        key = (batch, still, verified, int(context / self.bucket + 0.5))
        hit = self._each.get(key)
        if hit is None:
            hit = self._each[key] = self._price_each(batch, still, verified, key[3] * self.bucket)
        return hit

    def _price_each(self, batch, still, verified, ctx) -> tuple[float, float]:
        c, d, t, drafter = self.cost, self.draft_cost, self.target, self.draft
        tokens = verified / batch
        seconds = c.forward_s(t, batch, tokens, ctx)
        flops = c.forward_flops(t, batch, tokens, ctx)
        if drafter.kind == "ngram":
            seconds += drafter.cpu_per_step_s + batch * drafter.cpu_per_seq_s
        else:
            for i, b in enumerate(still):  # draft forward i + 1 over the sequences still drafting
                seconds += d.forward_s(drafter.model, b, 1, ctx + i)
                flops += d.forward_flops(drafter.model, b, 1, ctx + i)
        seconds += c.step_overhead_s(batch, len(still), verified_tokens=verified, draft_forwards=len(still))
        return float(seconds), float(flops)

    def prefill(self, batch: int, prompt_tokens: float) -> tuple[float, float]:
        """(seconds, FLOPs) of prefilling ``batch`` prompts of mean length ``prompt_tokens``
        in the target, and in the draft too when there is one."""
        key = (batch, int(prompt_tokens / self.bucket + 0.5))
        hit = self._prefills.get(key)
        if hit is None:
            tokens = max(1, key[1] * self.bucket)
            c, d = self.cost, self.draft_cost
            seconds = c.forward_s(self.target, batch, tokens, 0.0)
            flops = c.forward_flops(self.target, batch, tokens, 0.0)
            if self.prefill_model is not None:
                seconds += d.forward_s(self.prefill_model, batch, tokens, 0.0)
                flops += d.forward_flops(self.prefill_model, batch, tokens, 0.0)
            seconds += c.step_overhead_s(0, 0, batch)
            hit = self._prefills[key] = (float(seconds), float(flops))
        return hit

    def mixed(self, batch: int, gamma: int, context: float, prefill_seqs: int,
              prompt_tokens: int) -> tuple[float, float]:
        """(seconds, FLOPs) of an iteration carrying ``prompt_tokens`` prompt tokens of
        ``prefill_seqs`` requests and, if ``batch`` > 0, a speculative step of the running batch.

        Fused (chunked prefill, Sarathi-Serve style): the target runs one forward over all
        B·(γ+1) + P tokens — weights read once, FLOPs for every token, KV read at the running
        batch's context — priced as ``batch + prefill_seqs`` sequences of the mean token count.
        The draft runs its γ decode forwards and a separate prefill of the prompt tokens.
        """
        if batch == 0:
            return self.prefill(prefill_seqs, prompt_tokens / prefill_seqs)
        # Coarser memo than plain steps (five keys, so many more combinations): batch to 8 above
        # 16, context and prompt tokens to 64. The dense term is ~weights-bound, so this moves an
        # iteration's price by a few percent at most.
        coarse = MIXED_BUCKET
        b = batch if batch <= 16 else 8 * int(batch / 8 + 0.5)
        key = (b, gamma, int(context / coarse + 0.5), prefill_seqs, max(1, int(prompt_tokens / coarse + 0.5)))
        hit = self._mixed.get(key)
        if hit is None:
            hit = self._mixed[key] = self._price_mixed(b, gamma, key[2] * coarse, prefill_seqs, key[4] * coarse)
        return hit

    def _price_mixed(self, batch, gamma, ctx, prefill_seqs, prompt_tokens) -> tuple[float, float]:
        c, d, t = self.cost, self.draft_cost, self.target
        seqs = batch + prefill_seqs
        tokens = (batch * (gamma + 1) + prompt_tokens) / seqs
        fused_ctx = ctx * batch / seqs  # prompts being prefilled have (about) no cache yet
        seconds = c.forward_s(t, seqs, tokens, fused_ctx)
        flops = c.forward_flops(t, seqs, tokens, fused_ctx)
        if self.prefill_model is not None:
            per = prompt_tokens / prefill_seqs
            seconds += d.forward_s(self.prefill_model, prefill_seqs, per, 0.0)
            flops += d.forward_flops(self.prefill_model, prefill_seqs, per, 0.0)
        if self.draft is not None and gamma:
            seconds += proposal_price(d.forward_s, self.draft, batch, gamma, ctx)
            flops += proposal_price(d.forward_flops, self.draft, batch, gamma, ctx, cpu=False)
        seconds += c.step_overhead_s(batch, gamma, prefill_seqs)
        return float(seconds), float(flops)

    def update(self, num_tokens: int) -> tuple[float, float]:
        """(seconds on an idle replica, FLOPs) of one distillation update over ``num_tokens``
        (the draft's own parameters: a head's, not the target's)."""
        model = self.draft.model
        seconds = self._updates.get(num_tokens)
        if seconds is None:
            seconds = self._updates[num_tokens] = float(self.cost.update_s(model, num_tokens))
        return seconds, TRAIN_FLOPS_PER_PARAM_TOKEN * model.params * num_tokens  # 6·N·tokens


def _named(field: str, load, name: str):
    try:
        return load(name)
    except ValueError as exc:  # CardError: unknown or malformed card
        raise ValueError(f"{field}: {exc}") from None


def models(scenario: Scenario) -> tuple[ModelSpec, Drafter | None]:
    """The target card and (when speculating) the drafter; errors name the scenario field."""
    target = _named("target", load_model, scenario.target)
    draft = None
    if scenario.speculative:
        try:
            draft = build_drafter(scenario.draft, target, lambda name: _named("draft", load_model, name))
        except ValueError as exc:
            raise ValueError(str(exc) if str(exc).startswith("draft") else f"draft: {exc}") from None
    if target.num_heads % scenario.tp:
        raise ValueError(f"tp: {scenario.tp} does not divide the {target.num_heads} heads of {target.name}")
    if draft is not None and draft.kind == "model" and draft.model.num_heads % scenario.draft_tp:
        raise ValueError(f"draft_tp: {scenario.draft_tp} does not divide the {draft.model.num_heads} heads of "
                         f"{draft.name} (set draft_tp to a divisor, e.g. 1)")
    return target, draft


def draft_parallelism(scenario: Scenario, draft: Drafter | None) -> int:
    """GPUs the draft's forwards split over: draft_tp for a separate model; a head or the
    target's own layers run inside the target, at its tp."""
    return scenario.draft_tp if draft is None or draft.kind == "model" else scenario.tp


def hardware(scenario: Scenario):
    return _named("hardware", load_hardware, scenario.hardware)


def framework_name(scenario: Scenario, cost: CostModel) -> str:
    """The framework the scenario's prices assume, as its summary states it."""
    return getattr(cost, "framework_name", "none")
