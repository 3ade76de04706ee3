"""The cost model: pure numpy closed forms and rooflines (no torch, no matplotlib)."""

from osdsim.cost.closed_form import (
    extra_arithmetic,
    min_improvement_bound,
    optimal_gamma,
    tau,
    walltime_improvement,
)
from osdsim.cost.framework import DEFAULT_FRAMEWORK
from osdsim.cost.measured import MeasuredCost
from osdsim.cost.model import ConstantCost, CostModel, RooflineCost
from osdsim.cost.predict import Prediction, Unreachable, predict, solve_alpha
from osdsim.cost.roofline import (
    ForwardCost,
    forward_bytes,
    forward_cost,
    forward_flops,
    forward_time,
    kv_capacity_tokens,
    min_tp,
    weight_bytes,
)
from osdsim.cost.spare import (
    capacity_flops_per_s,
    distill_flops,
    distill_time,
    spare_flops,
    update_fits,
    utilisation,
)
from osdsim.cost.step import (
    c_from_cards,
    optimal_gamma_at_batch,
    plain_step_time,
    spec_speedup,
    spec_step_time,
)

__all__ = [
    "DEFAULT_FRAMEWORK", "Prediction", "Unreachable", "predict", "solve_alpha",
    "ConstantCost", "CostModel", "ForwardCost", "RooflineCost", "c_from_cards", "capacity_flops_per_s",
    "distill_flops", "distill_time", "extra_arithmetic", "forward_bytes", "forward_cost", "forward_flops",
    "forward_time", "kv_capacity_tokens", "MeasuredCost", "min_improvement_bound", "min_tp", "optimal_gamma",
    "optimal_gamma_at_batch", "plain_step_time", "spare_flops", "spec_speedup", "spec_step_time", "tau",
    "update_fits", "utilisation", "walltime_improvement", "weight_bytes",
]
