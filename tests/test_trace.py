"""Trace schema, writer, reader, resume and learning-curve fit (no torch)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from osdsim.trace import (
    SCHEMA_VERSION,
    TraceError,
    TraceWriter,
    new_meta,
    prepare_resume,
    read_trace,
)


def write_run(path, records=3, steps=2, update_every=0):
    with TraceWriter(path, mode="w") as w:
        w("meta", **new_meta(target="t", draft="d", gamma=3, mode="greedy"))
        version = 0
        for r in range(records):
            for s in range(steps):
                w("step", record=r, step=s, gamma=3, drafted=3, accepted=1, emitted=2,
                  draft_s=0.001, verify_s=0.01, accepted_mask=[1, 0], position=10 + s)
            w("record", record=r, domain="sql", alpha=0.5, num_tokens=2 * steps, latency_s=0.1,
              draft_version=version, prompt_tokens=10, steps=steps)
            if update_every and (r + 1) % update_every == 0:
                version += 1
                w("update", update=version, after_record=r, num_tokens=5, loss=1.0, update_s=0.2)


def test_roundtrip(tmp_path):
    p = tmp_path / "t.jsonl"
    write_run(p, records=4, steps=3, update_every=2)
    t = read_trace(p)
    assert t.meta["schema_version"] == SCHEMA_VERSION and t.meta["gamma"] == 3
    assert len(t.steps) == 12 and len(t.records) == 4 and len(t.updates) == 2
    assert t.aggregates.empty and not t.cut
    assert list(t.records["draft_version"]) == [0, 0, 1, 1]


def test_aggregate_line(tmp_path):
    p = tmp_path / "a.jsonl"
    with TraceWriter(p, mode="w") as w:
        w("meta", **new_meta(source="vllm"))
        w("aggregate", drafted=1000, accepted=700, emitted=975, gamma=4, interval_s=10.0,
          accepted_per_position=[300, 200, 120, 80])
    assert read_trace(p).aggregates.loc[0, "accepted"] == 700


def test_writer_refuses_bad_lines(tmp_path):
    with TraceWriter(tmp_path / "x.jsonl", mode="w") as w, pytest.raises(TraceError, match="lacks"):
        w("record", record=0)
    with TraceWriter(tmp_path / "y.jsonl", mode="w") as w, pytest.raises(TraceError, match="type"):
        w("bogus")


def test_malformed_middle_line_names_file_and_line(tmp_path):
    p = tmp_path / "bad.jsonl"
    write_run(p)
    lines = p.read_text().splitlines(keepends=True)
    lines[3] = '{"type": "step", "record": 0,\n'
    p.write_text("".join(lines))
    with pytest.raises(TraceError, match=r"bad\.jsonl:4: not valid JSON"):
        read_trace(p)


def test_missing_field_and_version(tmp_path):
    p = tmp_path / "m.jsonl"
    p.write_text(json.dumps({"type": "meta", "schema_version": 99}) + "\n")
    with pytest.raises(TraceError, match=r"m\.jsonl:1: schema_version 99"):
        read_trace(p)
    p.write_text(json.dumps({"type": "record", "record": 0}) + "\n")
    with pytest.raises(TraceError, match=r"m\.jsonl:1"):
        read_trace(p)


def test_long_line_refused(tmp_path):
    p = tmp_path / "long.jsonl"
    write_run(p)
    with open(p, "a") as f:
        f.write(json.dumps({"type": "update", "update": 1, "after_record": 0, "num_tokens": 1,
                            "loss": 0.0, "update_s": 0.0, "pad": "x" * (1 << 20)}) + "\n")
    with pytest.raises(TraceError, match="longer than"):
        read_trace(p)


@settings(max_examples=60, deadline=None)
@given(st.floats(0, 1))
def test_cut_at_any_byte_reads_prefix(tmp_path_factory, frac):
    p = tmp_path_factory.mktemp("cut") / "t.jsonl"
    write_run(p, records=3, steps=2)
    data = p.read_bytes()
    meta_end = data.index(b"\n") + 1
    cut = meta_end + int(frac * (len(data) - meta_end))
    p.write_bytes(data[:cut])
    t = read_trace(p)
    tail = data[:cut].rsplit(b"\n", 1)[-1]
    complete = tail.startswith(b"{") and tail.endswith(b"}")  # a whole last line without its newline is kept
    whole = data[:cut].count(b"\n") + complete
    assert t.lines == whole
    assert t.cut == (bool(tail) and not complete)
    # Resume keeps only whole records: no step of an unfinished record survives.
    r = prepare_resume(p)
    assert set(r.steps["record"]) <= set(r.records["record"]) if len(r.steps) else True
    assert p.read_bytes() == data[: len(p.read_bytes())]


def test_resume_appends_without_duplicates(tmp_path):
    p = tmp_path / "r.jsonl"
    write_run(p, records=3, steps=2)
    full = p.read_bytes()
    # Kill in the middle of record 2: its steps are written, its record line is half written.
    cut = full.rindex(b'{"type":"record"') + 10
    p.write_bytes(full[:cut])
    t = prepare_resume(p)
    assert list(t.records["record"]) == [0, 1] and set(t.steps["record"]) == {0, 1}
    with TraceWriter(p) as w:  # continue with record 2, as a resumed run does
        for s in range(2):
            w("step", record=2, step=s, gamma=3, drafted=3, accepted=1, emitted=2,
              draft_s=0.001, verify_s=0.01, accepted_mask=[1, 0], position=10 + s)
        w("record", record=2, domain="sql", alpha=0.5, num_tokens=4, latency_s=0.1,
          draft_version=0, prompt_tokens=10, steps=2)
    assert p.read_bytes() == full
    t = read_trace(p)
    assert not t.records["record"].duplicated().any()
    assert not t.steps[["record", "step"]].duplicated().any()


def test_resume_online_cuts_after_checkpointed_update(tmp_path):
    p = tmp_path / "o.jsonl"
    write_run(p, records=6, steps=1, update_every=2)
    t = prepare_resume(p, last_update=1)
    assert list(t.records["record"]) == [0, 1] and list(t.updates["update"]) == [1]
    t = prepare_resume(p, last_update=-1)
    assert t.records.empty and t.lines == 1
