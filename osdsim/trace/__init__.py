"""Traces: the versioned JSON Lines schema real runs write and everything else reads.

See ``osdsim/trace/SCHEMA.md`` for every field. Data only (stdlib, numpy and pandas): the schema,
reading and writing traces and the learning-curves sidecar, selecting records, and importers of
external logs. Fitting learning curves is ``osdsim.calibrate.curves``.
"""

from osdsim.trace.curves import curves_json, curves_path, read_curves
from osdsim.trace.io import Trace, TraceWriter, new_meta, prepare_resume, read_trace
from osdsim.trace.schema import MAX_LINE_BYTES, SCHEMA_VERSION, TraceError, validate_line
from osdsim.trace.select import record_mode, select_records, speculative_records

__all__ = [
    "MAX_LINE_BYTES", "SCHEMA_VERSION", "Trace", "TraceError", "TraceWriter", "curves_json",
    "curves_path", "new_meta", "prepare_resume", "read_curves", "read_trace", "record_mode",
    "select_records", "speculative_records", "validate_line",
]
