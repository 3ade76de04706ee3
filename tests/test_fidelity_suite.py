"""The published fidelity suite (benchmarks/published): every row read, no row's alpha solved
from itself, framework cards fitted to the suite carry their leave-one-source-out values, and
batch-1 rows predicted from their published acceptance."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from osdsim.specs import card_names, load_framework
from osdsim.validate.fidelity import load_suite, loso_frameworks, predict_suite

SUITE = Path(__file__).resolve().parents[1] / "benchmarks" / "published"


@pytest.fixture(scope="module")
def cases():
    return load_suite(SUITE)


def test_suite_size_and_sources(cases):
    assert len(cases) >= 80
    assert len({c.source for c in cases}) >= 8
    for c in cases:
        assert c.row["url"].startswith("http") and c.measured > 0


def test_no_row_is_predicted_from_itself(cases):
    ids = {c.id for c in cases}
    for c in cases:
        kind = c.inputs["acceptance"]
        if ":" in kind:
            anchor = kind.split(":", 1)[1]
            assert anchor != c.id and anchor in ids
            assert not any(x.inputs["acceptance"] == f"{kind.split(':')[0]}:{c.id}" and x.id == anchor
                           for x in cases if kind.startswith("curve"))
        if kind == "anchor":
            assert c.skip  # an anchor is never scored


def test_loso_values_replace_numbers_fitted_to_a_source(cases):
    fitted = {name: load_framework(name).loso for name in card_names("framework")}
    assert fitted["hf-eager"].get("spec-bench")  # its host cost per layer came from Spec-Bench's baseline
    swapped = loso_frameworks(cases, "spec-bench")["hf-eager"]
    assert swapped.host_per_layer_s == pytest.approx(fitted["hf-eager"]["spec-bench"]["host_per_layer_s"])
    assert "without spec-bench" in swapped.name


def test_batch_one_rows_with_published_acceptance(cases):
    rows = {"specbench-014", "specbench-021", "specbench-028", "llamacpp5877-001"}
    predict_suite(cases, only=rows)
    for c in cases:
        if c.id in rows:
            assert math.isfinite(c.predicted) and 0.5 < c.predicted < 4, (c.id, c.notes)
            assert 0 < c.alpha < 1 and math.isfinite(c.bare)
