"""The discrete-event serving simulator (SimPy): speculative decoding in a real queue, with
online draft updates. ``simulate(load_scenario(path))`` returns a :class:`SimResult`."""

from osdsim.sim.run import SimResult, simulate
from osdsim.sim.scenario import Scenario, load_scenario

__all__ = ["Scenario", "SimResult", "load_scenario", "simulate"]
