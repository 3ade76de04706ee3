"""The demo's speedup study: figure written, tables consistent with the closed forms."""

import json

import pytest

from osdsim import cost
from osdsim.cli.cmd_demo import speedup_grid
from osdsim.cli.main import main


def test_grid_matches_closed_form():
    grid = speedup_grid()
    row = grid[(grid["alpha"] == 0.7) & (grid["gamma"] == 5) & (grid["c"] == 0.1)].iloc[0]
    assert row["speedup"] == pytest.approx(cost.walltime_improvement(0.7, 5, 0.1))


def test_demo_writes_figure(tmp_path, capsys):
    code = main(["demo", "--figures", str(tmp_path / "fig"), "--out", str(tmp_path / "out"), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    png = tmp_path / "fig" / "speedup_vs_alpha.png"
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "out" / "speedup_grid.csv").exists()
    # The batch study must show speculation losing at high batch on the A100.
    speeds = [r["speedup_gamma5"] for r in data["batch_study"]]
    assert speeds[0] > 1 > speeds[-1]
