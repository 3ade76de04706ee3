"""Acceptance models: how many of γ drafted tokens the target accepts in one speculative step.

One protocol, four models (the notation of Leviathan et al. 2023, arXiv 2211.17192: ``alpha`` =
α, the per-token acceptance probability; ``gamma`` = γ, the drafts per step):

- :class:`ConstantAcceptance` — each draft accepted with probability α, i.i.d., until the first
  rejection (Leviathan et al. 2023, Section 3.1): accepted ~ min(Geometric(1 − α) − 1, γ).
- :class:`PerPositionAcceptance` — α_i = P(accept position i | positions 1..i−1 accepted).
- :class:`EmpiricalAcceptance` — accepted-count distributions per domain and γ measured in a trace.
- :class:`LearningCurveAcceptance` — an online draft: α(n) = α_∞ − (α_∞ − α_0)·exp(−n / scale)
  (:func:`learning_curve_alpha`), n = records of that domain the draft has been trained on (what
  real runs fit, ``osdsim.calibrate.curves``, and store as a ``<trace>.curves.json`` sidecar).

Every model answers ``expected_alpha``, ``expected_tokens`` (E[1 + accepted], the bonus token
counted; τ of ``osdsim.cost.tau`` for the i.i.d. models) and samples with an explicit
:class:`numpy.random.Generator`; nothing here holds state about training progress — the caller
passes ``n_trained``. i.i.d. counts are drawn as the simulator's engine draws them:
min(floor(E·s), γ) with E ~ Exp(1) and s = :func:`geometric_scale` (α).

Submodules: :mod:`~osdsim.acceptance.protocol` (the protocol), :mod:`~osdsim.acceptance.iid`
(i.i.d. sampling, the constant and learning-curve models), :mod:`~osdsim.acceptance.positions`
(per-position and empirical models).
"""

from osdsim.acceptance.iid import (
    ConstantAcceptance,
    LearningCurveAcceptance,
    geometric_scale,
    learning_curve_alpha,
    sample_iid,
)
from osdsim.acceptance.positions import EmpiricalAcceptance, PerPositionAcceptance
from osdsim.acceptance.protocol import DEFAULT_DOMAIN, AcceptanceModel

__all__ = [
    "DEFAULT_DOMAIN", "AcceptanceModel", "ConstantAcceptance", "EmpiricalAcceptance",
    "LearningCurveAcceptance", "PerPositionAcceptance", "geometric_scale", "learning_curve_alpha",
    "sample_iid",
]
