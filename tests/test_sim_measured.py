"""The simulator prices forwards from a calibrated card's measured table (``cost.model``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from osdsim.cost import MeasuredCost, RooflineCost, walltime_improvement
from osdsim.sim import load_scenario, simulate
from osdsim.sim.pricing import build_cost

TARGET_S, DRAFT_S = 0.030, 0.004  # per forward, any token count up to gamma + 1, any context


@pytest.fixture()
def card(tmp_path):
    base = yaml.safe_load((Path(__file__).resolve().parents[1] / "models" / "hardware" / "a100-80g.yaml")
                          .read_text(encoding="utf-8"))
    rows = [{"model": m, "batch": 1, "new_tokens": k, "context": ctx, "seconds": s}
            for m, s in (("vicuna-7b-v1.3", TARGET_S), ("llama-160m", DRAFT_S))
            for k in range(1, 5) for ctx in (0, 8000)]
    path = tmp_path / "a100-calibrated.yaml"
    path.write_text(yaml.safe_dump({**base, "measured": rows}), encoding="utf-8")
    return str(path)


def _scenario(card: str, **cost) -> dict:
    return {"seed": 5, "max_batch": 1, "gamma": 3, "hardware": card, "cost": cost,
            "workload": {"arrival": "constant", "rate": 0.001, "num_requests": 6,
                         "prompt_tokens": 1, "output_tokens": 2000},
            "acceptance": {"model": "constant", "alpha": 0.8}}


def test_auto_uses_a_cards_measured_table_and_matches_the_closed_form(card):
    scenario = load_scenario(_scenario(card))
    assert isinstance(build_cost(scenario), MeasuredCost)
    s = simulate(scenario).summary
    assert s["speedup"] == pytest.approx(walltime_improvement(0.8, 3, DRAFT_S / TARGET_S), rel=0.02)
    assert s["baseline"]["tpot_p50_s"] == pytest.approx(TARGET_S, rel=1e-6)


def test_roofline_ignores_the_table_and_measured_refuses_where_it_does_not_apply(card):
    assert isinstance(build_cost(load_scenario(_scenario(card, model="roofline"))), RooflineCost)
    assert isinstance(build_cost(load_scenario(_scenario("a100-80g"))), RooflineCost)  # auto, no table
    with pytest.raises(ValueError, match="cost.model measured.*no measured table"):
        build_cost(load_scenario(_scenario("a100-80g", model="measured")))
    with pytest.raises(ValueError, match="cost.model measured.*tp 2"):
        build_cost(load_scenario({**_scenario(card, model="measured"), "tp": 2}))
    with pytest.raises(ValueError, match="cost.model"):
        load_scenario(_scenario(card, model="table"))
