"""Acceptance as users have it (α, τ, counts, per-position rates), the γ-policy closed forms, the
solved α, and ``osdsim speedup``'s contract: keys, verdict, unreachable speedups."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from osdsim.cost import acceptance_inputs as ai
from osdsim.cost import gamma_policy as gp
from osdsim.cost import tau
from osdsim.cost.predict import Unreachable, predict, solve_alpha
from osdsim.specs import load_hardware, load_model

CARDS = ["--target", "vicuna-7b-v1.3", "--draft", "vicuna-68m", "--hardware", "a100-80g"]


def osdsim(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "osdsim.cli.main", *argv], capture_output=True, text=True)


@given(st.floats(0.01, 0.99), st.integers(1, 12))
@settings(max_examples=60, deadline=None)
def test_tau_counts_and_positions_give_back_alpha(alpha, gamma):
    t = tau(alpha, gamma)
    assert ai.alpha_from_tau(t, gamma) == pytest.approx(alpha, abs=1e-9)
    # Prefix counts: each step accepts (τ − 1) of γ drafts on average.
    assert ai.alpha_from_counts((t - 1) * 1000, gamma * 1000, gamma) == pytest.approx(alpha, abs=1e-9)
    assert ai.alpha_from_rate(alpha, gamma, "position") == alpha  # vLLM V0 counts every position
    # Unconditional per-position rates of i.i.d. acceptance are α^i.
    assert ai.alpha_from_positions([alpha ** i for i in range(1, gamma + 1)]) == pytest.approx(alpha, abs=1e-9)
    assert gp.alpha_for_tokens(t, "fixed", gamma) == pytest.approx(alpha, abs=1e-9)


def test_per_position_rates_hand_computed():
    cond = ai.conditional_rates([0.8, 0.4, 0.2])
    assert cond == pytest.approx([0.8, 0.5, 0.5])
    assert ai.tau_positions(cond, 3) == pytest.approx(1 + 0.8 + 0.4 + 0.2)
    assert gp.expected_tokens(tuple(cond), 3) == pytest.approx(2.4)
    with pytest.raises(ValueError, match="per-position rate 2"):
        ai.conditional_rates([0.5, 0.7])  # P(position 2) cannot exceed P(position 1)
    with pytest.raises(ValueError, match="tau must be in"):
        ai.alpha_from_tau(6.5, 5)


def test_heuristic_schedule_stationary_distribution():
    # α = 0: every step rejects, γ falls to 1 and stays (π(1) = 1).
    assert gp.heuristic_stationary(0.0)[1] == pytest.approx(1.0)
    # α = 0.5: from γ = 1 all-accept (p 0.5) moves to 3, from 3 with p 1/8 to 5 ...; balance
    # π(1)·0.5 = π(2)·(1 − 0.25)... is solved numerically; check it is a distribution whose
    # expected tokens sit between τ(γ = 1) and τ(γ = 3).
    pi = gp.heuristic_stationary(0.5)
    assert pi.sum() == pytest.approx(1.0) and pi[0] == 0.0
    tokens, _, mean_gamma = gp.policy_rate(0.5, lambda g: 1.0, "hf-heuristic", 5)
    assert tau(0.5, 1) < tokens < tau(0.5, 3)
    assert 1.0 < mean_gamma < 3.0


def test_solved_alpha_reproduces_its_speedup_and_unreachable_is_reported():
    t, d, hw = load_model("vicuna-7b-v1.3"), load_model("vicuna-68m"), load_hardware("a100-80g")
    kw = {"framework": "hf-eager", "gamma": 5}
    p = predict(0.63, t, d, hw, **kw)
    assert solve_alpha(p.speedup, t, d, hw, **kw) == pytest.approx(0.63, abs=1e-6)
    top = predict(1.0, t, d, hw, **kw).speedup
    with pytest.raises(Unreachable, match="no alpha in \\[0, 1\\]"):
        solve_alpha(top * 1.2, t, d, hw, **kw)


def test_speedup_json_keys_and_framework():
    out = osdsim("speedup", "--alpha", "0.7", "--gamma", "4", *CARDS, "--framework", "hf-eager", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    for key in ("tau", "speedup", "c", "optimal_gamma", "optimal_speedup", "framework", "verdict"):
        assert key in data
    assert data["framework"] == "hf-eager" and data["hardware"] == "a100-80g"
    # With cards, speedup is the framework-aware prediction (the closed form is reported beside it).
    p = predict(0.7, load_model("vicuna-7b-v1.3"), load_model("vicuna-68m"), load_hardware("a100-80g"),
                framework="hf-eager", gamma=4, context=512)
    assert data["speedup"] == pytest.approx(p.speedup)
    assert "closed_form_speedup" in data


def test_speedup_tau_counts_and_alpha_agree():
    runs = {
        "alpha": ["--alpha", f"{0.7:.12f}"],
        "tau": ["--tau", f"{tau(0.7, 4):.12f}"],
        "counts": ["--accepted", f"{(tau(0.7, 4) - 1) * 1e6:.6f}", "--drafted", f"{4e6:.0f}"],
    }
    got = {}
    for name, acc in runs.items():
        out = osdsim("speedup", *acc, "--gamma", "4", "--policy", "fixed", *CARDS, "--json")
        assert out.returncode == 0, out.stderr
        got[name] = json.loads(out.stdout)["speedup"]
    assert got["tau"] == pytest.approx(got["alpha"], rel=1e-6)
    assert got["counts"] == pytest.approx(got["alpha"], rel=1e-6)


def test_speedup_gamma_optional_and_verdict_first():
    out = osdsim("speedup", "--alpha", "0.8", "--c", "0.05")
    assert out.returncode == 0, out.stderr
    first = out.stdout.splitlines()[0]
    assert first.startswith("speculation pays") and "best fixed gamma 8" in first


def test_measured_speedup_solves_alpha_or_says_it_cannot():
    out = osdsim("speedup", "--measured-speedup", "1.5", "--gamma", "5", "--policy", "fixed", *CARDS,
                 "--framework", "hf-eager", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["speedup"] == pytest.approx(1.5, rel=1e-6)
    assert "solved" in data["alpha_source"]
    bad = osdsim("speedup", "--measured-speedup", "40", "--gamma", "5", *CARDS)
    assert bad.returncode == 2
    assert "no alpha in [0, 1]" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.parametrize("argv, message", [
    (["--alpha", "0.7", "--tau", "2"], "exactly one"),
    (["--tau", "2.2"], "needs --gamma"),
    (["--accepted", "5"], "go together"),
    (["--per-position", "0.5,x"], "comma-separated"),
])
def test_speedup_bad_acceptance_is_one_sentence(argv, message):
    out = osdsim("speedup", *argv, "--c", "0.1")
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr
