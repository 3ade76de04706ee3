"""A cost model slowed down by a constant factor: a calibrated card on a machine under load.

A card profiled on a quiet machine prices a run recorded while other processes shared the cores
too fast by roughly (runnable processes / cores). ``ScaledCost`` multiplies every forward time of
a base cost model by ``factor``; ``fitted_scale`` estimates the factor from measured steps
(median of measured / predicted), so a validation can separate the load (one number) from the
shape of the cost model (everything else).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ScaledCost:
    """``base`` with forward and update times multiplied by ``factor`` (FLOPs unchanged)."""

    base: object
    factor: float = 1.0

    def __post_init__(self) -> None:
        if not self.factor > 0:
            raise ValueError(f"scale factor must be positive, got {self.factor!r}")

    def forward_s(self, model, batch, new_tokens, context):
        return self.factor * self.base.forward_s(model, batch, new_tokens, context)

    def forward_flops(self, model, batch, new_tokens, context):
        return self.base.forward_flops(model, batch, new_tokens, context)

    def capacity_flops_per_s(self):
        return self.base.capacity_flops_per_s() / self.factor

    def update_s(self, draft, num_tokens):
        return self.factor * self.base.update_s(draft, num_tokens)

    def step_overhead_s(self, *args, **kwargs):
        return self.factor * getattr(self.base, "step_overhead_s", lambda *a, **k: 0.0)(*args, **kwargs)

    @property
    def batch_expansion(self) -> bool:
        return bool(getattr(self.base, "batch_expansion", False))

    @property
    def framework_name(self) -> str:
        return f"{getattr(self.base, 'framework_name', 'none')} x {self.factor:g}"

    def for_draft(self, draft_tp: int, dtype=None):
        base = self.base.for_draft(draft_tp, dtype) if hasattr(self.base, "for_draft") else self.base
        return self if base is self.base else ScaledCost(base, self.factor)


def fitted_scale(measured_s, predicted_s) -> float:
    """Median of measured / predicted over positive pairs (1.0 if there are none)."""
    m, p = np.asarray(measured_s, dtype=float), np.asarray(predicted_s, dtype=float)
    ok = np.isfinite(m) & np.isfinite(p) & (m > 0) & (p > 0)
    return float(np.median(m[ok] / p[ok])) if ok.any() else 1.0
