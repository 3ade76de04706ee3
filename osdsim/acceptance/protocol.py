"""What the simulator, sweeps and the validator need from an acceptance model."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

DEFAULT_DOMAIN = "default"


@runtime_checkable
class AcceptanceModel(Protocol):
    """What the simulator, sweeps and the validator need from an acceptance model."""

    def expected_alpha(self, domain: str = DEFAULT_DOMAIN, n_trained: float = 0.0) -> float:
        """Mean per-position acceptance probability α for ``domain`` after ``n_trained`` records."""

    def expected_tokens(self, gamma: int, domain: str = DEFAULT_DOMAIN, n_trained: float = 0.0) -> float:
        """E[1 + accepted] tokens emitted per step with ``gamma`` drafts (τ for i.i.d. models)."""

    def sample_accepted(self, rng: np.random.Generator, gamma: int, domain: str = DEFAULT_DOMAIN,
                        n_trained: float = 0.0) -> int:
        """One step's accepted drafts, an integer in 0..gamma."""

    def sample_many(self, rng: np.random.Generator, gamma: int, size: int, domain: str = DEFAULT_DOMAIN,
                    n_trained: float = 0.0) -> np.ndarray:
        """``size`` independent accepted counts (int64 array) for one domain."""


def check_prob(value, name: str) -> float:
    """``value`` as a float in [0, 1], or a ValueError naming the field."""
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return value
