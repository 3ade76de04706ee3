"""Domain blocks of a stream: α at each block's start and end, speedup against baselines, alignment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from osdsim.trace.blocks import align_blocks, block_table, rolling_speedup


def _records(alphas: dict[str, list[float]], base_s: float | None = None, spec_s: float = 1.0) -> pd.DataFrame:
    rows, r = [], 0
    for domain, values in alphas.items():
        for a in values:
            if base_s is not None:
                rows.append({"record": r, "domain": domain, "alpha": None, "latency_s": base_s, "mode": "baseline"})
            rows.append({"record": r, "domain": domain, "alpha": a, "latency_s": spec_s, "mode": "speculative"})
            r += 1
    return pd.DataFrame(rows)


def test_block_table_takes_first_and_last_records_of_each_block():
    t = block_table(_records({"sql": [0.1, 0.2, 0.5, 0.7], "math": [0.3, 0.3, 0.9]}), edge=2)
    assert t["domain"].tolist() == ["sql", "math"] and t["records"].tolist() == [4, 3]
    assert t.loc[0, "alpha_first"] == pytest.approx(0.15) and t.loc[0, "alpha_last"] == pytest.approx(0.6)
    assert t.loc[1, "alpha_gain"] == pytest.approx(0.6 - 0.3)
    assert "speedup_first" not in t  # no baselines in the trace


def test_speedup_is_plain_time_over_speculative_time_of_the_same_records():
    recs = _records({"sql": [0.5, 0.5, 0.5]}, base_s=3.0, spec_s=2.0)
    recs.loc[recs["record"].eq(2) & recs["mode"].eq("speculative"), "latency_s"] = 1.0
    t = block_table(recs, edge=2)
    assert t.loc[0, "speedup_first"] == pytest.approx(6.0 / 4.0)
    assert t.loc[0, "speedup_last"] == pytest.approx(6.0 / 3.0)
    with pytest.raises(ValueError, match="edge"):
        block_table(recs, edge=0)


def test_a_repeated_domain_is_a_new_block():
    t = block_table(_records({"sql": [0.1], "math": [0.2]}) .pipe(
        lambda d: pd.concat([d, d.assign(record=d["record"] + 2, domain="sql")])), edge=5)
    assert t["domain"].tolist() == ["sql", "math", "sql"]


def test_align_puts_a_shorter_run_at_each_block_start():
    long = _records({"sql": [0.1] * 4, "math": [0.2] * 4})
    short = _records({"sql": [0.5] * 2, "math": [0.6] * 2}, base_s=1.0)
    out = align_blocks({"long": long, "short": short})
    assert out["short"]["record"].tolist() == [0, 1, 4, 5]  # baselines dropped, blocks start where long's do
    assert out["long"]["record"].tolist() == list(range(8))
    with pytest.raises(ValueError, match="more domain blocks"):
        align_blocks({"a": _records({"sql": [0.1] * 4}), "b": _records({"x": [0.1], "y": [0.1]})})


def test_rolling_speedup_is_a_ratio_of_sums_over_the_trailing_window():
    recs = _records({"sql": [0.2, 0.4, 0.6, 0.8]}, base_s=3.0, spec_s=2.0)
    recs.loc[recs["record"].eq(3) & recs["mode"].eq("speculative"), "latency_s"] = 1.0
    r = rolling_speedup(recs, window=2)
    assert r["record"].tolist() == [0, 1, 2, 3]
    assert r["speedup"].tolist() == pytest.approx([3 / 2, 6 / 4, 6 / 4, 6 / 3])
    assert r["alpha"].tolist() == pytest.approx([0.2, 0.3, 0.5, 0.7])
    assert rolling_speedup(recs, window=np.int64(2))["speedup"].tolist() == r["speedup"].tolist()
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="window"):
            rolling_speedup(recs, window=bad)


def test_rolling_speedup_needs_a_baseline_for_every_record():
    with pytest.raises(ValueError, match="baselines"):
        rolling_speedup(_records({"sql": [0.5, 0.5]}))
    recs = _records({"sql": [0.5, 0.5]}, base_s=1.0)
    recs = recs[~(recs["record"].eq(1) & recs["mode"].eq("baseline"))]
    with pytest.raises(ValueError, match="record 1 has no plain-decoding baseline"):
        rolling_speedup(recs)
