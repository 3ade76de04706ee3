"""Scenario files (YAML or TOML) → frozen dataclasses, every field defaulted and checked.

The core fields are the "Scenario files" contract of docs/reference.md; the rest are additions. An unknown or
bad field raises ``ValueError`` naming its dotted path (``workload.rate``). Relative file paths
(replay file, learning curves, empirical trace) resolve against the scenario file's folder.

This module gathers the names of three: :mod:`osdsim.sim.scenario_fields` (the dataclasses and
the choices of their string fields), :mod:`osdsim.sim.scenario_parse` (a raw mapping checked into
a :class:`Scenario`) and :mod:`osdsim.sim.scenario_files` (reading files, overrides,
:func:`load_scenario`).
"""

from __future__ import annotations

from osdsim.sim.scenario_fields import (
    ACCEPTANCE_MODELS,
    ARRIVALS,
    COST_MODELS,
    DISTS,
    ROUTERS,
    AcceptanceSpec,
    CostSpec,
    LengthDist,
    Online,
    Scenario,
    Schedule,
    Slo,
    Workload,
)
from osdsim.sim.scenario_files import (
    MAX_SCENARIO_BYTES,
    apply_overrides,
    load_scenario,
    read_scenario_file,
)
from osdsim.sim.scenario_parse import parse_scenario

__all__ = ["ACCEPTANCE_MODELS", "ARRIVALS", "COST_MODELS", "DISTS", "MAX_SCENARIO_BYTES", "ROUTERS",
           "AcceptanceSpec", "CostSpec", "LengthDist", "Online", "Scenario", "Schedule", "Slo", "Workload",
           "apply_overrides", "load_scenario", "parse_scenario", "read_scenario_file"]
