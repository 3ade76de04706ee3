"""Calibration: fit the roofline's free parameters to measured timings; a measured-table cost model.

- :func:`fit_roofline` — least squares on relative error of the four free parameters.
- :class:`MeasuredCost` (from :mod:`osdsim.cost.measured`) — interpolates a card's measured table.
- :func:`hardware_card` — the YAML mapping of a calibrated card (the CLI writes it).
- :func:`model_spec_from_hf_config` — a ModelSpec from an HF ``config.json`` dict.
- :func:`osdsim.calibrate.curves.fit_learning_curves` — learning curves α(n) fitted to a trace.
- :func:`osdsim.calibrate.workflow.calibrate_card` — what ``osdsim calibrate`` computes.
"""

from osdsim.calibrate.card import hardware_card
from osdsim.calibrate.fit import PARAMS, TIMING_COLUMNS, Fit, fit_roofline
from osdsim.calibrate.from_trace import timings_from_trace
from osdsim.calibrate.hf_config import model_spec_from_hf_config, model_spec_from_hf_dir
from osdsim.calibrate.scaled import ScaledCost, fitted_scale
from osdsim.cost.measured import MeasuredCost

__all__ = [
    "PARAMS", "TIMING_COLUMNS", "Fit", "MeasuredCost", "ScaledCost", "fit_roofline", "fitted_scale",
    "hardware_card",
    "model_spec_from_hf_config", "model_spec_from_hf_dir", "timings_from_trace",
]
