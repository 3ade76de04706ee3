"""Part of a trace: the records (and their steps and draft updates) a held-out check uses."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from osdsim.trace.io import Trace


def record_mode(records: pd.DataFrame) -> pd.Series:
    """Each record line's ``mode`` ("speculative" where a trace has none, as older traces)."""
    if "mode" not in records:
        return pd.Series("speculative", index=records.index)
    return records["mode"].fillna("speculative").astype(str)


def speculative_records(records: pd.DataFrame) -> pd.DataFrame:
    """The record lines that are not plain-decoding baselines."""
    return records[record_mode(records) != "baseline"]


def select_records(trace: Trace, which: str = "all") -> Trace:
    """The trace restricted to some records, for held-out checks: "all" (unchanged), "even",
    "odd" (by record number), or "A:B" (records A ≤ record < B, either end may be left out).
    Draft updates go by the parity of their own number for "even"/"odd" (half of them each way)
    and by the record they followed for "A:B"."""
    if which == "all":
        return trace
    if which in ("even", "odd"):
        parity = 0 if which == "even" else 1

        def chosen(values: pd.Series) -> pd.Series:
            return values % 2 == parity

        update_key = "update"
    else:
        lo, sep, hi = which.partition(":")
        try:
            start = int(lo) if lo.strip() else -(2 ** 62)
            stop = int(hi) if hi.strip() else 2 ** 62
        except ValueError:
            start = stop = None
        if not sep or start is None:
            raise ValueError(f"records must be all, even, odd or A:B, got {which!r}")

        def chosen(values: pd.Series) -> pd.Series:
            return (values >= start) & (values < stop)

        update_key = "after_record"

    def keep(df: pd.DataFrame | None, column: str) -> pd.DataFrame | None:
        if df is None or column not in df:
            return df
        return df[chosen(df[column].astype(int))].reset_index(drop=True)

    part = replace(trace, steps=keep(trace.steps, "record"), records=keep(trace.records, "record"),
                   updates=keep(trace.updates, update_key))
    if part.records.empty:
        raise ValueError(f"{trace.path}: no records selected by {which!r}")
    return part
