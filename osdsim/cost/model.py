"""The CostModel protocol the simulator prices its steps with, and its implementations.

- :class:`RooflineCost` — the roofline of :mod:`osdsim.cost.roofline` on one hardware card with
  a serving framework's costs, optionally tensor-parallel across ``tp`` GPUs.
- :class:`ConstantCost` — fixed seconds per forward of each model, for tests and closed-form checks.

A calibrated, table-interpolating cost model (measured timings, :mod:`osdsim.cost.measured`)
plugs in the same way. Besides forwards, a cost model says what an engine iteration costs
outside its forwards (``step_overhead_s``: the framework's scheduler, sampler, rejection
sampler), whether the framework verifies by batch expansion, and which cost model prices the
draft's forwards (``for_draft``: a draft may run at its own tensor parallelism).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from osdsim.cost import roofline, spare
from osdsim.cost.framework import resolve
from osdsim.specs import FrameworkSpec, HardwareSpec, ModelSpec


@runtime_checkable
class CostModel(Protocol):
    """Prices forward passes and draft updates on one replica (all values are floats)."""

    def forward_s(self, model: ModelSpec, batch: float, new_tokens: float, context: float) -> float:
        """Seconds for one forward: ``batch`` sequences, ``new_tokens`` each, mean ``context``."""

    def forward_flops(self, model: ModelSpec, batch: float, new_tokens: float, context: float) -> float:
        """FLOPs of that forward (all GPUs of the replica together)."""

    def capacity_flops_per_s(self) -> float:
        """FLOP/s the replica can sustain (peak × efficiency × GPUs): the ceiling for spare compute."""

    def update_s(self, draft: ModelSpec, num_tokens: float) -> float:
        """Seconds for one distillation update of ``draft`` over ``num_tokens`` on an idle replica."""

    def step_overhead_s(self, batch: float, gamma: int, prefill_seqs: int = 0, verified_tokens=None,
                        draft_forwards=None) -> float:
        """Seconds an iteration of ``batch`` decoding sequences with γ drafts (and
        ``prefill_seqs`` prompts prefilled) adds outside its forwards (``verified_tokens`` and
        ``draft_forwards`` when they are not B·(γ + 1) and γ: trees, n-gram lookups)."""


class _NoFramework:
    """Step costs of a cost model whose forwards already hold everything (tables, constants)."""

    batch_expansion = False
    framework_name = "none (measured or constant forwards)"

    def step_overhead_s(self, batch, gamma, prefill_seqs=0, verified_tokens=None, draft_forwards=None):
        return 0.0

    def for_draft(self, draft_tp: int, dtype: str | None = None):
        return self


@dataclass(frozen=True)
class RooflineCost:
    """Roofline cost on ``hardware`` in ``dtype`` across ``tp`` GPUs (tensor parallel), with the
    costs of ``framework`` (a card name or spec; see :func:`osdsim.cost.framework.resolve`)."""

    hardware: HardwareSpec
    dtype: str | None = None
    tp: int = 1
    framework: str | FrameworkSpec | None = None
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fw", resolve(self.framework, self.hardware))

    @property
    def framework_name(self) -> str:
        return self.fw.name

    @property
    def batch_expansion(self) -> bool:
        return self.fw.batch_expansion

    def forward_s(self, model, batch, new_tokens, context):
        key = (model.name, batch, new_tokens, context)
        hit = self._cache.get(key)
        if hit is None:
            hit = float(roofline.forward_time(model, self.hardware, batch, new_tokens, context,
                                              dtype=self.dtype, tp=self.tp, framework=self.fw))
            if len(self._cache) < 200_000:
                self._cache[key] = hit
        return hit

    def step_overhead_s(self, batch, gamma, prefill_seqs=0, verified_tokens=None, draft_forwards=None):
        return float(self.fw.step_s(batch, gamma, verified_tokens, prefill_seqs, draft_forwards))

    def for_draft(self, draft_tp: int, dtype: str | None = None) -> RooflineCost:
        """The cost model of the draft's forwards, run across ``draft_tp`` GPUs in ``dtype``
        (default: the target's)."""
        dtype = dtype or self.dtype
        if draft_tp == self.tp and dtype == self.dtype:
            return self
        return RooflineCost(self.hardware, dtype, draft_tp, self.fw)

    def forward_flops(self, model, batch, new_tokens, context):
        return float(roofline.forward_flops(model, batch, new_tokens, context))

    def capacity_flops_per_s(self):
        return float(spare.capacity_flops_per_s(self.hardware, self.dtype, self.tp))

    def update_s(self, draft, num_tokens):
        return float(spare.distill_time(draft, self.hardware, num_tokens, dtype=self.dtype, framework=self.fw))


@dataclass(frozen=True)
class ConstantCost(_NoFramework):
    """Every forward of a model costs a fixed time, whatever batch, tokens or context.

    ``forward_s_by_model`` maps model names to seconds; at batch 1 with a draft at ``c·T`` and a
    target at ``T`` this reproduces the assumptions of Leviathan's closed form exactly.
    """

    forward_s_by_model: dict[str, float]
    flops_per_token_by_model: dict[str, float] = field(default_factory=dict)
    capacity: float = 1e15
    update_s_per_token: float = 0.0

    def forward_s(self, model, batch, new_tokens, context):
        try:
            return float(self.forward_s_by_model[model.name])
        except KeyError:
            raise ValueError(f"ConstantCost has no time for model {model.name!r}") from None

    def forward_flops(self, model, batch, new_tokens, context):
        per_token = self.flops_per_token_by_model.get(model.name, 2.0 * model.params)
        return float(per_token * batch * new_tokens)

    def capacity_flops_per_s(self):
        return float(self.capacity)

    def update_s(self, draft, num_tokens):
        return float(self.update_s_per_token * num_tokens)
