"""Traces: the versioned JSON Lines schema real runs write and everything else reads.

See ``osdsim/trace/SCHEMA.md`` for every field. Imports only stdlib, numpy and pandas
(scipy inside the learning-curve fit).
"""

from osdsim.trace.curves import curves_json, curves_path, exp_curve, fit_learning_curves
from osdsim.trace.io import Trace, TraceWriter, new_meta, prepare_resume, read_trace
from osdsim.trace.schema import MAX_LINE_BYTES, SCHEMA_VERSION, TraceError, validate_line

__all__ = [
    "MAX_LINE_BYTES", "SCHEMA_VERSION", "Trace", "TraceError", "TraceWriter", "curves_json",
    "curves_path", "exp_curve", "fit_learning_curves", "new_meta", "prepare_resume",
    "read_trace", "validate_line",
]
