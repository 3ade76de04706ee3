"""The CostModel protocol the simulator prices its steps with, and its implementations.

- :class:`RooflineCost` — the roofline of :mod:`osdsim.cost.roofline` on one hardware card,
  optionally tensor-parallel across ``tp`` GPUs.
- :class:`ConstantCost` — fixed seconds per forward of each model, for tests and closed-form checks.

A calibrated, table-interpolating cost model (measured timings) plugs in the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from osdsim.cost import roofline, spare
from osdsim.specs import HardwareSpec, ModelSpec


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


@dataclass(frozen=True)
class RooflineCost:
    """Roofline cost on ``hardware`` in ``dtype`` across ``tp`` GPUs (tensor parallel)."""

    hardware: HardwareSpec
    dtype: str | None = None
    tp: int = 1
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def forward_s(self, model, batch, new_tokens, context):
        key = (model.name, batch, new_tokens, context)
        hit = self._cache.get(key)
        if hit is None:
            hit = float(roofline.forward_time(model, self.hardware, batch, new_tokens, context,
                                              dtype=self.dtype, tp=self.tp))
            if len(self._cache) < 200_000:
                self._cache[key] = hit
        return hit

    def forward_flops(self, model, batch, new_tokens, context):
        return float(roofline.forward_flops(model, batch, new_tokens, context))

    def capacity_flops_per_s(self):
        return float(spare.capacity_flops_per_s(self.hardware, self.dtype, self.tp))

    def update_s(self, draft, num_tokens):
        return float(spare.distill_time(draft, self.hardware, num_tokens, dtype=self.dtype))


@dataclass(frozen=True)
class ConstantCost:
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
