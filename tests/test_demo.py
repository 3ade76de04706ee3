"""The demo: closed-form tables, and the whole loop minus the real run (--skip-real) end to end."""

import json

import pytest

from osdsim import cost
from osdsim.cli.demo_stages import speedup_grid
from osdsim.cli.main import main


def test_grid_matches_closed_form():
    grid = speedup_grid()
    row = grid[(grid["alpha"] == 0.7) & (grid["gamma"] == 5) & (grid["c"] == 0.1)].iloc[0]
    assert row["speedup"] == pytest.approx(cost.walltime_improvement(0.7, 5, 0.1))


@pytest.mark.slow
def test_demo_skip_real_writes_figures_and_report(tmp_path, capsys):
    code = main(["demo", "--skip-real", "--figures", str(tmp_path / "fig"), "--out", str(tmp_path / "out"),
                 "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    for name in ("speedup_vs_alpha", "demo_sim_alpha", "demo_speedup_vs_rate", "demo_replicas_vs_load"):
        png = tmp_path / "fig" / f"{name}.png"
        assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## 5. What-if sweep and capacity plan" in report and "demo_replicas_vs_load.png" in report
    # The batch study must show speculation losing at high batch on the A100.
    speeds = [r["speedup_gamma5"] for r in data["batch_study"]]
    assert speeds[0] > 1 > speeds[-1]
    # OSD raises the simulated service's mean alpha over the static draft.
    assert data["service"]["online"]["mean_alpha"] > data["service"]["static"]["mean_alpha"]
