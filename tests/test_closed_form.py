"""Leviathan closed forms against hand-computed values, limits and monotonicity properties."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from osdsim import cost

alphas = st.floats(0.0, 1.0, allow_nan=False)
gammas = st.integers(0, 20)


def test_tau_hand_values():
    # (1 - 0.5^3) / (1 - 0.5) = 0.875 / 0.5 = 1.75
    assert cost.tau(0.5, 2) == pytest.approx(1.75)
    # (1 - 0.8^6) / 0.2 = (1 - 0.262144) / 0.2 = 3.68928
    assert cost.tau(0.8, 5) == pytest.approx(3.68928)


def test_tau_limits():
    assert cost.tau(0.0, 7) == 1.0
    assert cost.tau(1.0, 7) == 8.0
    assert cost.tau(1 - 1e-7, 7) == pytest.approx(8.0, rel=1e-5)
    assert cost.tau(0.6, 0) == 1.0


def test_walltime_improvement_hand_value_and_gamma_zero():
    # tau(0.8, 5) / (5 * 0.05 + 1) = 3.68928 / 1.25
    assert cost.walltime_improvement(0.8, 5, 0.05) == pytest.approx(3.68928 / 1.25)
    assert cost.walltime_improvement(0.3, 0, 0.5) == 1.0


def test_extra_arithmetic_hand_value():
    # (1 - a)(g c + g + 1) / (1 - a^(g+1)) with a=.5, g=2, c=.1: .5 * 3.2 / .875
    assert cost.extra_arithmetic(0.5, 2, 0.1) == pytest.approx(0.5 * 3.2 / 0.875)


def test_optimal_gamma_matches_brute_force_and_bound():
    g, s = cost.optimal_gamma(0.8, 0.05)
    brute = max(range(33), key=lambda k: cost.walltime_improvement(0.8, k, 0.05))
    assert g == brute
    assert s == pytest.approx(cost.walltime_improvement(0.8, g, 0.05))
    # Corollary 3.9: if alpha > c, the best improvement is at least (1 + alpha) / (1 + c).
    assert s >= cost.min_improvement_bound(0.8, 0.05) - 1e-12
    # alpha <= c: speculation cannot pay, gamma 0 is best.
    assert cost.optimal_gamma(0.2, 0.3) == (0, 1.0)


def test_broadcasting_shapes():
    a = np.linspace(0, 1, 11)[:, None]
    g = np.arange(1, 6)[None, :]
    assert cost.tau(a, g).shape == (11, 5)
    best, speed = cost.optimal_gamma(a[:, 0], 0.1)
    assert best.shape == speed.shape == (11,)


@pytest.mark.parametrize("bad", [-0.1, 1.1, float("nan")])
def test_bad_alpha_raises(bad):
    with pytest.raises(ValueError, match="alpha"):
        cost.tau(bad, 3)


def test_bad_gamma_and_c_raise():
    with pytest.raises(ValueError, match="gamma"):
        cost.tau(0.5, -1)
    with pytest.raises(ValueError, match="c must"):
        cost.walltime_improvement(0.5, 2, -0.1)


@given(alphas, alphas, gammas)
def test_tau_increasing_in_alpha(a1, a2, g):
    lo, hi = sorted((a1, a2))
    assert cost.tau(lo, g) <= cost.tau(hi, g) + 1e-9


@given(alphas, gammas)
def test_tau_increasing_in_gamma_and_bounded(a, g):
    assert cost.tau(a, g) <= cost.tau(a, g + 1) + 1e-9
    assert 1.0 - 1e-9 <= cost.tau(a, g) <= g + 1 + 1e-9


@given(alphas, st.integers(1, 20), st.floats(0, 2), st.floats(0, 2))
def test_speedup_decreasing_in_c(a, g, c1, c2):
    lo, hi = sorted((c1, c2))
    assert cost.walltime_improvement(a, g, hi) <= cost.walltime_improvement(a, g, lo) + 1e-12
