"""Capacity planning: the fewest replicas (and the best γ and draft) that meet a latency SLO."""

from osdsim.plan.planner import MODES, candidates, plan, plan_rates
from osdsim.plan.search import SLO, min_replicas, parse_slo

__all__ = ["MODES", "SLO", "candidates", "min_replicas", "parse_slo", "plan", "plan_rates"]
