"""Acceptance models: Monte Carlo against the closed forms, the protocol, and bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from osdsim.acceptance import (
    AcceptanceModel,
    ConstantAcceptance,
    EmpiricalAcceptance,
    LearningCurveAcceptance,
    PerPositionAcceptance,
    geometric_scale,
    learning_curve_alpha,
    sample_iid,
)
from osdsim.cost import tau

CURVES = {"form": "exp", "unit": "records",
          "domains": {"spider": {"alpha0": 0.4, "alpha_inf": 0.8, "scale": 100.0, "points": 12},
                      "gsm8k": {"alpha0": 0.3, "alpha_inf": 0.9, "scale": 50.0, "points": 9}}}


def _models():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"domain": "a", "gamma": 4,
                          "accepted": ConstantAcceptance(0.6).sample_many(rng, 4, 2000)})
    return [ConstantAcceptance(0.7), PerPositionAcceptance([0.9, 0.7, 0.5]),
            EmpiricalAcceptance(frame), LearningCurveAcceptance(CURVES)]


@pytest.mark.parametrize("model", _models(), ids=lambda m: type(m).__name__)
def test_every_model_honours_the_protocol(model):
    rng = np.random.default_rng(1)
    assert isinstance(model, AcceptanceModel)
    for gamma in (0, 1, 3, 7):
        one = model.sample_accepted(rng, gamma, "spider", 10)
        assert isinstance(one, int) and 0 <= one <= gamma
        many = model.sample_many(rng, gamma, 500, "spider", 10)
        assert many.shape == (500,) and many.min() >= 0 and many.max() <= gamma
    assert 0.0 <= model.expected_alpha("spider", 10) <= 1.0
    assert model.expected_tokens(0, "spider", 10) == pytest.approx(1.0)


@pytest.mark.parametrize(("alpha", "gamma"), [(0.5, 3), (0.7, 5), (0.9, 8), (0.2, 1)])
def test_constant_mean_tokens_is_tau(alpha, gamma):
    rng = np.random.default_rng(2)
    accepted = ConstantAcceptance(alpha).sample_many(rng, gamma, 400_000)
    assert accepted.mean() + 1 == pytest.approx(tau(alpha, gamma), rel=0.01)
    assert ConstantAcceptance(alpha).expected_tokens(gamma) == pytest.approx(tau(alpha, gamma))


def test_constant_edges_and_per_domain():
    rng = np.random.default_rng(3)
    assert ConstantAcceptance(0.0).sample_many(rng, 5, 100).max() == 0
    assert ConstantAcceptance(1.0).sample_many(rng, 5, 100).min() == 5
    model = ConstantAcceptance(0.5, {"code": 0.9})
    assert model.expected_alpha("code") == 0.9 and model.expected_alpha("chat") == 0.5
    with pytest.raises(ValueError, match="acceptance.alpha"):
        ConstantAcceptance(1.5)


def test_per_position_distribution_matches_its_rates():
    rng = np.random.default_rng(4)
    model = PerPositionAcceptance([0.9, 0.6, 0.3])
    counts = np.bincount(model.sample_many(rng, 3, 300_000), minlength=4) / 300_000
    expected = [0.1, 0.9 * 0.4, 0.9 * 0.6 * 0.7, 0.9 * 0.6 * 0.3]
    assert counts == pytest.approx(expected, abs=0.004)
    # Beyond the list the last rate repeats: equal rates reduce to the i.i.d. model.
    assert PerPositionAcceptance([0.7]).expected_tokens(5) == pytest.approx(tau(0.7, 5))


def test_empirical_resamples_measured_gamma_and_recomposes_others():
    rng = np.random.default_rng(5)
    truth = ConstantAcceptance(0.75)
    frame = pd.DataFrame({"domain": ["chat"] * 50_000, "gamma": 5,
                          "accepted": truth.sample_many(rng, 5, 50_000)})
    model = EmpiricalAcceptance(frame)
    assert model.expected_tokens(5, "chat") == pytest.approx(tau(0.75, 5), rel=0.01)
    assert model.expected_tokens(3, "chat") == pytest.approx(tau(0.75, 3), rel=0.01)  # not in the data
    assert model.expected_tokens(8, "chat") == pytest.approx(tau(0.75, 8), rel=0.02)  # extrapolated flat
    assert model.expected_alpha("unknown-domain") == pytest.approx(0.75, abs=0.01)  # pooled
    sampled = model.sample_many(rng, 5, 100_000, "chat")
    assert sampled.mean() + 1 == pytest.approx(tau(0.75, 5), rel=0.01)


def test_empirical_rejects_bad_rows():
    with pytest.raises(ValueError, match="accepted"):
        EmpiricalAcceptance(pd.DataFrame({"domain": ["a"], "gamma": [2], "accepted": [3]}))
    with pytest.raises(ValueError, match="column"):
        EmpiricalAcceptance(pd.DataFrame({"gamma": [2], "accepted": [1]}))


def test_learning_curve_follows_its_formula(tmp_path):
    model = LearningCurveAcceptance(CURVES)
    assert model.expected_alpha("spider", 0) == pytest.approx(0.4)
    assert model.expected_alpha("spider", 100) == pytest.approx(0.8 - 0.4 * np.exp(-1))
    assert model.expected_alpha("gsm8k", 1e9) == pytest.approx(0.9)
    assert model.expected_alpha("spider", 37) == learning_curve_alpha(37, 0.4, 0.8, 100.0)
    assert learning_curve_alpha(np.array([0.0, 100.0]), 0.4, 0.8, 100.0) == pytest.approx([0.4, 0.8 - 0.4 * np.exp(-1)])
    assert model.expected_tokens(4, "spider", 0) == pytest.approx(tau(0.4, 4))
    path = tmp_path / "run.curves.json"
    path.write_text(json.dumps(CURVES))
    assert LearningCurveAcceptance(str(path)).expected_alpha("gsm8k", 50) == model.expected_alpha("gsm8k", 50)


@pytest.mark.parametrize(("curves", "field"), [
    ({"form": "power", "domains": {"a": {"alpha0": 0.1, "alpha_inf": 0.2, "scale": 1}}}, "form"),
    ({"domains": {"a": {"alpha0": 0.1, "alpha_inf": 1.2, "scale": 1}}}, "alpha_inf"),
    ({"domains": {"a": {"alpha0": 0.1, "alpha_inf": 0.2, "scale": 0}}}, "scale"),
    ({"domains": {"a": {"alpha0": 0.1, "scale": 3}}}, "alpha_inf"),
    ({"domains": {"a": {"alpha0": 0.1, "alpha_inf": 0.2, "scale": 1, "shape": 2}}}, "shape"),
    ({"domains": {}}, "domains"),
])
def test_learning_curve_names_the_bad_field(curves, field):
    with pytest.raises(ValueError, match=field):
        LearningCurveAcceptance(curves)


@settings(max_examples=60, deadline=None)
@given(alpha=st.floats(0.0, 1.0), gamma=st.integers(0, 12), seed=st.integers(0, 2**32 - 1))
def test_samples_stay_in_range(alpha, gamma, seed):
    rng = np.random.default_rng(seed)
    for model in (ConstantAcceptance(alpha), PerPositionAcceptance([alpha, alpha / 2])):
        sample = model.sample_many(rng, gamma, 64)
        assert sample.min(initial=0) >= 0 and sample.max(initial=0) <= gamma
        assert 1.0 <= model.expected_tokens(gamma) <= gamma + 1.0 + 1e-9


def test_iid_counts_are_the_engines_exponential_draw():
    """accepted = min(floor(E·s), γ), E ~ Exp(1), s = −1/ln α: the simulator engine's draw."""
    assert geometric_scale(0.0) == 0.0 and geometric_scale(-0.1) == 0.0
    assert geometric_scale(np.exp(-0.5)) == pytest.approx(2.0)
    assert geometric_scale(1.0) * 1e-12 > 100  # every draft accepted
    assert list(geometric_scale(np.array([0.0, np.exp(-1.0)]))) == pytest.approx([0.0, 1.0])
    a, b = np.random.default_rng(9), np.random.default_rng(9)
    drawn = sample_iid(a, 4, 0.6, 1000)
    expected = np.minimum(np.floor(b.standard_exponential(1000) * -1.0 / np.log(0.6)), 4)
    assert drawn.dtype == np.int64 and (drawn == expected).all()
    counts = np.bincount(sample_iid(np.random.default_rng(3), 3, 0.5, 200_000), minlength=4) / 200_000
    assert counts == pytest.approx([0.5, 0.25, 0.125, 0.125], abs=0.005)
