"""Which serving framework prices a forward, and what it adds (cards in ``osdsim/cards/framework``).

``resolve(framework, hardware)`` gives the framework a prediction assumes: the named card (the
default is :data:`DEFAULT_FRAMEWORK`), except on a hardware card that carries its own fitted
overheads (``overhead_per_forward_us`` / ``overhead_per_layer_us``, what ``osdsim calibrate``
writes): such a card was fitted to the whole software stack as it ran, so its overheads price
every forward, added to the roofline (the fit's model), and no framework costs are added on
top. The returned spec's ``name`` says which applied.
"""

from __future__ import annotations

from osdsim.specs import FrameworkSpec, HardwareSpec, load_framework

# The framework a prediction assumes when none is named: vLLM's V1 engine, what most teams
# serve with in 2026 (its card cites the numbers).
DEFAULT_FRAMEWORK = "vllm-v1"


def calibrated(hw: HardwareSpec) -> bool:
    """Whether ``hw`` carries fitted overheads that stand for the whole software stack."""
    return hw.overhead_per_forward_s > 0 or hw.overhead_per_layer_s > 0


def resolve(framework: str | FrameworkSpec | None, hw: HardwareSpec) -> FrameworkSpec:
    """The framework whose costs price forwards and steps on ``hw`` (see the module docstring)."""
    if calibrated(hw):
        return FrameworkSpec(name=f"calibrated card {hw.name}", host_per_forward_s=hw.overhead_per_forward_s,
                             host_per_layer_s=hw.overhead_per_layer_s, overlap=False,
                             description="overheads fitted to measured runs, added to the roofline")
    return load_framework(framework or DEFAULT_FRAMEWORK)
