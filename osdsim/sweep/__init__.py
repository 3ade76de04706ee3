"""Parameter sweeps over scenario fields, run locally or on Ray, resumable."""

from osdsim.sim.scenario_files import apply_overrides
from osdsim.sweep.grid import grid_points, parse_axis, point_id, random_points
from osdsim.sweep.runner import EVALUATORS, evaluate_point, run_sweep

__all__ = ["EVALUATORS", "apply_overrides", "evaluate_point", "grid_points", "parse_axis", "point_id",
           "random_points", "run_sweep"]
