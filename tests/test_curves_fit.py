"""Learning-curve fits do not extrapolate an asymptote far beyond the records they saw."""

import numpy as np
import pandas as pd
import pytest

from osdsim.trace.curves import exp_curve, fit_learning_curves


def _records(n, alpha):
    return pd.DataFrame({"record": np.arange(len(n)), "domain": "sql", "alpha": alpha, "n": n})


def test_recovers_a_curve_that_saturates_within_the_data():
    n = np.arange(400, dtype=float)
    alpha = exp_curve(n, 0.2, 0.7, 60.0) + np.random.default_rng(0).normal(0, 0.02, n.size)
    fit = fit_learning_curves(_records(n, alpha))["domains"]["sql"]
    assert fit["alpha0"] == pytest.approx(0.2, abs=0.03)
    assert fit["alpha_inf"] == pytest.approx(0.7, abs=0.02)
    assert fit["scale"] == pytest.approx(60, rel=0.2)


def test_short_climbing_block_does_not_fit_alpha_one():
    # 16 records still on a straight climb from 0.30 to 0.45: an unbounded fit would say
    # alpha_inf = 1 with a scale of hundreds of records.
    n = np.arange(16, dtype=float)
    alpha = 0.30 + 0.01 * n
    fit = fit_learning_curves(_records(n, alpha))["domains"]["sql"]
    assert fit["scale"] <= 7.5 + 1e-9  # half the observed span
    assert fit["alpha_inf"] < 0.6


def test_noise_without_a_trend_fits_a_flat_line():
    # 16 records of pure noise around 0.4: a free exponential would chase it (a step of a tiny
    # scale, or a trend); Akaike's criterion keeps the flat mean.
    alpha = 0.4 + np.random.default_rng(1).normal(0, 0.08, 16)
    fit = fit_learning_curves(_records(np.arange(16.0), alpha))["domains"]["sql"]
    assert fit["alpha0"] == fit["alpha_inf"] == pytest.approx(alpha.mean())
