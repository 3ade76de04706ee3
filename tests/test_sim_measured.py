"""The simulator prices forwards from a calibrated card's measured table (``cost.model``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from osdsim.cost import MeasuredCost, RooflineCost, walltime_improvement
from osdsim.sim import load_scenario, simulate
from osdsim.sim.pricing import build_cost
from osdsim.specs import load_model

TARGET_S, DRAFT_S = 0.030, 0.004  # per forward, any token count up to gamma + 1, any context


@pytest.fixture()
def card(tmp_path):
    base = yaml.safe_load((Path(__file__).resolve().parents[1] / "osdsim" / "cards" / "hardware" / "a100-80g.yaml")
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


def test_a_cards_measured_updates_set_the_simulated_update_time(card, tmp_path):
    data = yaml.safe_load(Path(card).read_text(encoding="utf-8"))
    data["measured_updates"] = [{"model": "llama-160m", "num_tokens": n, "seconds": 0.25 + 1e-4 * n}
                                for n in (100, 200, 400)]
    path = tmp_path / "with-updates.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    scenario = {**_scenario(str(path)), "online": {"update_interval": 2, "mode": "exclusive"},
                "workload": {"rate": 0.5, "num_requests": 12, "prompt_tokens": 32, "output_tokens": 64}}
    updates = simulate(scenario, baseline=False).updates
    assert len(updates) >= 5
    assert updates["update_s"].to_numpy() == pytest.approx(0.25 + 1e-4 * updates["num_tokens"].to_numpy(), rel=1e-9)
    roofline = simulate({**scenario, "cost": {"model": "roofline"}}, baseline=False).updates
    assert (roofline["update_s"] < 0.25).all()  # the spec-sheet roofline knows nothing of the fixed part


def test_update_lines_are_least_squares_with_nonnegative_parts():
    from osdsim.cost.measured import update_lines

    lines = update_lines([("d", n, 0.2 + 1e-3 * n) for n in (10, 50, 90)] + [("e", 10, 0.3), ("e", 90, 0.1),
                                                                           ("e", 50, 0.2)])
    assert lines["d"] == pytest.approx((0.2, 1e-3))
    assert lines["e"] == pytest.approx((0.2, 0.0))  # a falling line is held flat at the mean


def test_measured_refuses_a_table_without_the_scenarios_models_and_updates_alone_select_it(card, tmp_path):
    data = yaml.safe_load(Path(card).read_text(encoding="utf-8"))
    other = tmp_path / "other-models.yaml"
    other.write_text(yaml.safe_dump({**data, "measured": [{**r, "model": "someone-else"} for r in data["measured"]]}))
    with pytest.raises(ValueError, match="no measured forwards of vicuna-7b-v1.3, llama-160m"):
        build_cost(load_scenario(_scenario(str(other), model="measured")))
    assert isinstance(build_cost(load_scenario(_scenario(str(other)))), MeasuredCost)  # auto: its roofline fills in
    updates_only = tmp_path / "updates-only.yaml"
    updates_only.write_text(yaml.safe_dump({**{k: v for k, v in data.items() if k != "measured"},
                                            "measured_updates": [{"model": "llama-160m", "num_tokens": 100,
                                                                  "seconds": 0.3}]}))
    cost = build_cost(load_scenario(_scenario(str(updates_only))))
    assert isinstance(cost, MeasuredCost) and cost.update_s(load_model("llama-160m"), 100) == pytest.approx(0.3)
