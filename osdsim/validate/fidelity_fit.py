"""Fitting a framework card's number to rows of the fidelity suite, leave-one-source-out.

Some costs have no published measurement but show in published speedups (llama.cpp's work per
draft token, say). ``loso_fit`` chooses such a number on a grid by the median absolute log error
of the framework's rows — once on all sources (the card's value) and once without each source
(the value that source is scored with, the card's ``loso`` entry). A number fitted here is
therefore never scored on the rows it was fitted to.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from osdsim.specs import load_framework
from osdsim.validate.fidelity import Case, predict_suite


def _score(cases: list[Case]) -> float:
    errors = [abs(math.log(c.predicted / c.measured)) for c in cases if math.isfinite(c.predicted)]
    return float(np.median(errors)) if errors else math.inf


def _predict_with(cases: list[Case], spec, ids: set[str]) -> list[Case]:
    for c in cases:
        if c.id in ids:
            c.predicted, c.notes = math.nan, []
    predict_suite(cases, {spec.name: spec}, ids)
    return [c for c in cases if c.id in ids]


def loso_fit(cases: list[Case], framework: str, field: str, grid) -> dict[str, float]:
    """{"all": best value over every source, source: best value without that source} for the
    rows priced with ``framework`` (a card name); ``field`` is a FrameworkSpec field."""
    fw = load_framework(framework)
    rows = [c for c in cases if not c.skip and c.inputs["framework_card"] == framework]
    sources = sorted({c.source for c in rows})
    scores: dict[float, dict[str, float]] = {}
    for value in grid:
        spec = replace(fw, name=framework, **{field: float(value)})
        done = _predict_with(cases, spec, {c.id for c in rows})
        scores[float(value)] = {src: _score([c for c in done if c.source != src]) for src in sources}
        scores[float(value)]["all"] = _score(done)
    out = {key: min(scores, key=lambda v, k=key: scores[v][k]) for key in ["all", *sources]}
    for c in rows:  # leave the cases as they were found
        c.predicted, c.notes = math.nan, []
    return out
