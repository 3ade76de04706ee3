"""A cost model that interpolates measured forward timings and falls back to the fitted roofline.

Real devices have steps no roofline sees: on the 2-core CPU of docs/reference.md a forward over 4 or
more new tokens takes a slower matmul path, so verify time jumps between γ = 2 and γ = 3. The
table is therefore interpolated piecewise-linearly *only between measured points*: in
new_tokens between the two nearest measured token counts (a step between 3 and 4 stays a step
when both are measured), then in batch, then in context, each between its nearest measured
neighbours. A context beyond the table's (default ``extrapolate="anchored"``) scales the
nearest table value by the roofline's ratio of the two contexts, so a table measured at 30-130
tokens of context still prices a 27-token step from its own neighbour; with
``extrapolate="roofline"`` such a point is priced by the roofline alone. Where new tokens,
batch or the model lie outside what was measured, the forward is priced by the roofline of the
(calibrated) hardware card.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from osdsim.cost.model import RooflineCost, _NoFramework
from osdsim.specs import HardwareSpec, ModelSpec

_EXTRAPOLATE = ("roofline", "anchored")


def build_tables(rows) -> dict[str, dict[float, dict[float, tuple[np.ndarray, np.ndarray]]]]:
    """model → new_tokens → batch → (contexts, seconds), duplicates reduced to their median."""
    cells: dict[tuple, list[float]] = defaultdict(list)
    for model, batch, new_tokens, context, seconds in rows:
        cells[(str(model), float(new_tokens), float(batch), float(context))].append(float(seconds))
    nested: dict = defaultdict(lambda: defaultdict(dict))
    for (model, k, b, ctx), values in cells.items():
        nested[model][k].setdefault(b, {})[ctx] = float(np.median(values))
    tables: dict = {}
    for model, by_k in nested.items():
        tables[model] = {k: {b: (np.array(sorted(c)), np.array([c[x] for x in sorted(c)]))
                             for b, c in by_b.items()} for k, by_b in by_k.items()}
    return tables


def auto_cost(hardware: HardwareSpec, dtype: str | None = None, framework: str | None = None):
    """The card's measured table (with its roofline outside it) if it has one, else its roofline."""
    if hardware.measured or hardware.measured_updates:
        return MeasuredCost(hardware, dtype=dtype, framework=framework)
    return RooflineCost(hardware, dtype=dtype, framework=framework)


def update_lines(rows) -> dict[str, tuple[float, float]]:
    """model → (a, b): least-squares seconds = a + b·num_tokens over its update rows, a, b ≥ 0."""
    by_model: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for model, num_tokens, seconds in rows:
        by_model[str(model)].append((float(num_tokens), float(seconds)))
    lines = {}
    for model, pts in by_model.items():
        x, y = np.array(pts).T
        slope = 0.0
        if len(x) >= 3 and np.ptp(x) > 0:
            slope = max(0.0, float(np.polyfit(x, y, 1)[0]))
        intercept = float(np.mean(y - slope * x))
        if intercept < 0:  # a line through the origin instead
            intercept, slope = 0.0, float(np.sum(x * y) / np.sum(x * x))
        lines[model] = (intercept, slope)
    return lines


def _bracket(levels: list[float], x: float) -> tuple[float, float, float] | None:
    """(lower, upper, weight of upper) of ``x`` among sorted ``levels``; None outside them."""
    if not levels or x < levels[0] or x > levels[-1]:
        return None
    i = bisect.bisect_left(levels, x)
    if levels[i] == x:
        return x, x, 0.0
    lo, hi = levels[i - 1], levels[i]
    return lo, hi, (x - lo) / (hi - lo)


@dataclass(frozen=True)
class MeasuredCost(_NoFramework):
    """CostModel over ``hardware.measured`` (rows model, batch, new_tokens, context, seconds).

    ``forward_flops`` and ``capacity_flops_per_s`` come from the roofline of ``hardware``.
    ``update_s`` of a draft with rows in ``hardware.measured_updates`` (or ``update_rows``) is
    the least-squares line a + b·tokens through them (a, b ≥ 0: an update's fixed part, the
    optimizer step and launches, dominates small drafts), else the roofline's. ``rows``
    overrides the card's forward table. Measured forwards hold the framework's costs as they
    ran (calibration charges a step's bookkeeping to its verify), so none are added per step.
    """

    hardware: HardwareSpec
    rows: tuple = ()
    extrapolate: str = "anchored"
    update_rows: tuple = ()
    dtype: str | None = None
    framework: str | None = None  # prices what the table does not cover (with the card's roofline)
    _tables: dict = field(default_factory=dict, compare=False, repr=False)
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.extrapolate not in _EXTRAPOLATE:
            raise ValueError(f"extrapolate must be one of {', '.join(_EXTRAPOLATE)}")
        self._tables.update(build_tables(self.rows or self.hardware.measured))
        object.__setattr__(self, "_roofline", RooflineCost(self.hardware, dtype=self.dtype,
                                                           framework=self.framework))
        object.__setattr__(self, "_update_lines", update_lines(self.update_rows or self.hardware.measured_updates))

    def measured_models(self) -> list[str]:
        return sorted(self._tables)

    def table_s(self, model: ModelSpec, batch, new_tokens, context) -> float | None:
        """Interpolated table seconds, or None where the table does not cover the point."""
        by_k = self._tables.get(model.name)
        if by_k is None:
            return None
        kb = _bracket(sorted(by_k), float(new_tokens))
        if kb is None:
            return None
        values = []
        for k in (kb[0], kb[1]):
            by_b = by_k[k]
            bb = _bracket(sorted(by_b), float(batch))
            if bb is None:
                return None
            pair = [self._at_context(model, by_b[b], b, k, float(context)) for b in (bb[0], bb[1])]
            if None in pair:
                return None
            values.append(pair[0] + bb[2] * (pair[1] - pair[0]))
        return values[0] + kb[2] * (values[1] - values[0])

    def _at_context(self, model, table, batch, new_tokens, context) -> float | None:
        contexts, seconds = table
        if contexts[0] <= context <= contexts[-1]:
            return float(np.interp(context, contexts, seconds))
        if self.extrapolate != "anchored":
            return None
        edge = contexts[0] if context < contexts[0] else contexts[-1]
        edge_s = seconds[0] if context < contexts[0] else seconds[-1]
        ratio = (self._roofline.forward_s(model, batch, new_tokens, context)
                 / self._roofline.forward_s(model, batch, new_tokens, edge))
        return float(edge_s * ratio)

    def forward_s(self, model, batch, new_tokens, context):
        key = (model.name, batch, new_tokens, context)
        hit = self._cache.get(key)
        if hit is None:
            hit = self.table_s(model, batch, new_tokens, context)
            if hit is None:
                hit = self._roofline.forward_s(model, batch, new_tokens, context)
            if len(self._cache) < 200_000:
                self._cache[key] = hit
        return hit

    def forward_flops(self, model, batch, new_tokens, context):
        return self._roofline.forward_flops(model, batch, new_tokens, context)

    def capacity_flops_per_s(self):
        return self._roofline.capacity_flops_per_s()

    def update_s(self, draft, num_tokens):
        line = self._update_lines.get(draft.name)
        if line is None:
            return self._roofline.update_s(draft, num_tokens)
        return float(line[0] + line[1] * float(num_tokens))
