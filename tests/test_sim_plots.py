"""Figures of simulation tables: a Figure comes back, missing columns are named."""

from __future__ import annotations

import pytest

pytest.importorskip("matplotlib")

from osdsim.sim import simulate  # noqa: E402


@pytest.fixture(scope="module")
def result():
    return simulate({"workload": {"num_requests": 60, "rate": 4.0}, "online": {"update_interval": 4}},
                    baseline=False)


def test_step_timeline_and_latency_cdf(result):
    from matplotlib.figure import Figure

    from osdsim.plots.sim import latency_cdf, step_timeline

    assert isinstance(step_timeline(result.steps, span_s=(0.0, 5.0)), Figure)
    assert isinstance(latency_cdf({"spec": result.requests}), Figure)


def test_missing_columns_are_named(result):
    from osdsim.plots.sim import latency_cdf, step_timeline

    with pytest.raises(ValueError, match="stall_s"):
        step_timeline(result.steps.drop(columns="stall_s"))
    with pytest.raises(ValueError, match="finished"):
        latency_cdf({"x": result.requests.drop(columns="finished")})
