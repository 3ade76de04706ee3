"""Domain blocks of a stream: α at the start and end of each block, speedup where the trace holds
plain-decoding baselines, and several runs of one schedule put on one record axis."""

from __future__ import annotations

import numbers

import pandas as pd

from osdsim.trace.select import record_mode, speculative_records


def block_ids(records: pd.DataFrame) -> pd.Series:
    """1, 2, ... for consecutive runs of one domain, in record order."""
    return records["domain"].ne(records["domain"].shift()).cumsum()


def _with_plain(records: pd.DataFrame) -> tuple[pd.DataFrame, bool]:
    """The speculative records in record order with ``plain_s``, the plain-decoding latency of the
    same record (NaN where it has none), and whether the trace holds any baseline at all."""
    spec = speculative_records(records).sort_values("record").reset_index(drop=True)
    base = records[record_mode(records) == "baseline"]
    if base.empty:  # a trace without baselines may lack the column too
        return spec.assign(plain_s=float("nan")), False
    plain = base.set_index("record")["latency_s"].reindex(spec["record"]).to_numpy()
    return spec.assign(plain_s=plain), True


def block_table(records: pd.DataFrame, edge: int = 50) -> pd.DataFrame:
    """One row per domain block: its records, mean α over its first and last ``edge`` records
    and the gain between them, and (with baselines) the speedup of the same records: plain
    decoding's time over speculative decoding's for the same prompts and tokens."""
    if edge < 1:
        raise ValueError(f"edge must be at least 1 record, got {edge}")
    spec, has_baseline = _with_plain(records)
    rows = []
    for _, block in spec.groupby(block_ids(spec), sort=True):
        first, last = block.head(edge), block.tail(edge)
        row = {"domain": block["domain"].iloc[0], "records": len(block),
               "alpha_first": float(first["alpha"].mean()), "alpha_last": float(last["alpha"].mean())}
        row["alpha_gain"] = row["alpha_last"] - row["alpha_first"]
        if has_baseline:
            for name, part in (("first", first), ("last", last)):
                plain = part["plain_s"]
                row[f"speedup_{name}"] = float(plain.sum() / part["latency_s"].sum()) if plain.notna().all() else None
        rows.append(row)
    return pd.DataFrame(rows)


def align_blocks(runs: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Put every run on the longest run's record axis, block by block: a shorter run of the same
    schedule (fewer records per block, the same prompts first) starts each block where it does."""
    runs = {label: speculative_records(df).sort_values("record").reset_index(drop=True) for label, df in runs.items()}
    if not runs:
        return runs
    first = max(runs.values(), key=len)
    starts = first.groupby(block_ids(first))["record"].min()
    out = {}
    for label, df in runs.items():
        block = block_ids(df)
        if block.max() > len(starts):
            raise ValueError(f"{label}: more domain blocks than the longest run")
        offset = df.groupby(block).cumcount()
        out[label] = df.assign(record=block.map(starts).to_numpy() + offset.to_numpy())
    return out


def rolling_speedup(records: pd.DataFrame, window: int = 50) -> pd.DataFrame:
    """Measured speedup over the records of a run with plain-decoding baselines, in a trailing
    window: for each speculative record, the plain-decoding time of the last ``window`` records
    over their speculative time (the same prompts and tokens), and their mean α. A window is
    ratio of sums, not a mean of per-record ratios (long replies weigh as much as they take).
    Columns ``record``, ``domain``, ``alpha``, ``speedup``."""
    if isinstance(window, bool) or not isinstance(window, numbers.Integral) or window < 1:
        raise ValueError(f"window must be a whole number of records, at least 1, got {window!r}")
    window = int(window)
    spec, has_baseline = _with_plain(records)
    if spec.empty or not has_baseline:
        raise ValueError("rolling_speedup needs a trace with speculative records and their plain-decoding "
                         "baselines (osdsim run --baseline)")
    if spec["plain_s"].isna().any():
        missing = spec.loc[spec["plain_s"].isna(), "record"].iloc[0]
        raise ValueError(f"record {missing} has no plain-decoding baseline")
    plain_sum = spec["plain_s"].rolling(window, min_periods=1).sum()
    spec_sum = spec["latency_s"].rolling(window, min_periods=1).sum()
    return pd.DataFrame({"record": spec["record"], "domain": spec["domain"],
                         "alpha": spec["alpha"].rolling(window, min_periods=1).mean(),
                         "speedup": plain_sum / spec_sum})
