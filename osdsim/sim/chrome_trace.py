"""The simulator's per-step timeline in the Chrome / Perfetto trace-event format (what Vidur and
other serving simulators export): open the JSON in https://ui.perfetto.dev or chrome://tracing.

One process per replica; on it a thread per kind of work: "iterations" (every engine iteration,
named by its phase: decode, prefill or mixed, with batch, γ, tokens and accepted drafts as
arguments) and "draft updates" (each OSD update, spare or exclusive). Times are microseconds of
simulated time. Pure data: :func:`chrome_trace` returns the object, the CLI writes it.
"""

from __future__ import annotations

import math


def _num(value):
    value = float(value)
    return None if not math.isfinite(value) else (int(value) if value.is_integer() else value)


def chrome_trace(result, max_events: int = 2_000_000) -> dict:
    """{"traceEvents": [...], "displayTimeUnit": "ms"} for a :class:`SimResult`'s steps and updates;
    at most ``max_events`` iterations (the first ones), so a long run stays loadable."""
    steps, updates = result.steps, result.updates
    events = []
    replicas = sorted({int(r) for r in steps["replica"]}) if len(steps) else []
    for r in replicas:
        events.append({"name": "process_name", "ph": "M", "pid": r, "tid": 0, "args": {"name": f"replica {r}"}})
        events.append({"name": "thread_name", "ph": "M", "pid": r, "tid": 0, "args": {"name": "iterations"}})
        events.append({"name": "thread_name", "ph": "M", "pid": r, "tid": 1, "args": {"name": "draft updates"}})
    cols = ("time_s", "busy_s", "replica", "phase", "batch", "gamma", "tokens", "accepted", "prefill_seqs",
            "prompt_tokens", "in_system", "stall_s")
    table = steps[[c for c in cols if c in steps.columns]].head(max_events)
    for row in table.itertuples(index=False):
        row = row._asdict()
        args = {k: _num(row[k]) for k in ("batch", "gamma", "tokens", "accepted", "prefill_seqs", "prompt_tokens",
                                          "in_system", "stall_s") if k in row}
        events.append({"name": str(row.get("phase", "iteration")), "cat": "iteration", "ph": "X",
                       "ts": row["time_s"] * 1e6, "dur": row["busy_s"] * 1e6, "pid": int(row["replica"]), "tid": 0,
                       "args": args})
    for row in updates.itertuples(index=False):
        row = row._asdict()
        events.append({"name": f"draft update ({row.get('mode')})", "cat": "update", "ph": "X",
                       "ts": row["start_s"] * 1e6, "dur": row["duration_s"] * 1e6, "pid": int(row["replica"]),
                       "tid": 1, "args": {k: _num(row[k]) for k in ("num_tokens", "records", "stall_s", "alpha_after")
                                          if k in row and row[k] is not None}})
    return {"traceEvents": events, "displayTimeUnit": "ms",
            "otherData": {"source": "osdsim simulate", "iterations": len(table), "truncated": len(steps) > len(table)}}
