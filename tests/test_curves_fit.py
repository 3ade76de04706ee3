"""Learning-curve fits (osdsim.calibrate.curves): parameters recovered, and no asymptote extrapolated
far beyond the records they saw."""

import numpy as np
import pandas as pd
import pytest

from osdsim.acceptance import learning_curve_alpha as exp_curve
from osdsim.calibrate.curves import fit_learning_curves


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


def test_fit_learning_curves_recovers_parameters():
    rng = np.random.default_rng(0)
    rows, updates, version = [], [], 0
    counts = {"sql": 0, "math": 0}
    trained = {"sql": 0, "math": 0}
    for r in range(800):
        domain = "sql" if r < 400 else "math"
        a0, ainf, scale = (0.2, 0.8, 60.0) if domain == "sql" else (0.1, 0.7, 100.0)
        alpha = exp_curve(trained[domain], a0, ainf, scale) + rng.normal(0, 0.03)
        rows.append({"record": r, "domain": domain, "alpha": float(alpha),
                     "draft_version": version})
        counts[domain] += 1
        if (r + 1) % 8 == 0:
            version += 1
            updates.append({"update": version, "after_record": r})
            trained = dict(counts)
    curves = fit_learning_curves(pd.DataFrame(rows), pd.DataFrame(updates))
    assert curves["form"] == "exp" and curves["unit"] == "records"
    sql, math_ = curves["domains"]["sql"], curves["domains"]["math"]
    assert sql["points"] == 400
    assert sql["alpha0"] == pytest.approx(0.2, abs=0.05)
    assert sql["alpha_inf"] == pytest.approx(0.8, abs=0.03)
    assert sql["scale"] == pytest.approx(60, rel=0.25)
    assert math_["alpha_inf"] == pytest.approx(0.7, abs=0.03)


def test_fit_flat_without_updates():
    df = pd.DataFrame({"record": range(10), "domain": ["code"] * 10, "alpha": [0.5] * 10,
                       "draft_version": [0] * 10})
    d = fit_learning_curves(df)["domains"]["code"]
    assert d["alpha0"] == d["alpha_inf"] == 0.5 and d["points"] == 10
