"""Every plot kind renders a non-empty image from a small DataFrame."""

import json

import pandas as pd
import pytest

from osdsim.cli.main import main

TABLES = {
    "speedup-alpha": pd.DataFrame({"alpha": [0.2, 0.5, 0.8] * 2, "gamma": [1] * 3 + [4] * 3, "c": 0.1,
                                   "speedup": [1.1, 1.3, 1.6, 0.9, 1.4, 2.2]}),
    "latency-rate": pd.DataFrame({"rate": [1, 2, 4, 1, 2, 4], "mode": ["plain"] * 3 + ["spec"] * 3,
                                  "latency_p50_s": [1, 1.2, 3, 0.6, 0.9, 4], "latency_p99_s": [2, 3, 9, 1, 2, 12]}),
    "tpot-rate": pd.DataFrame({"rate": [1, 2], "mode": ["plain", "plain"], "tpot_p50_s": [0.02, 0.03],
                               "tpot_p99_s": [0.05, 0.06]}),
    "speedup-rate": pd.DataFrame({"rate": [1, 2, 4, 8], "speedup": [1.8, 1.5, 1.1, 0.8]}),
    "replicas-load": pd.DataFrame({"rate": [10, 20, 10, 20], "mode": ["plain", "plain", "osd", "osd"],
                                   "gpus": [2, 4, 1, 2]}),
    "draft-size": pd.DataFrame({"draft_params": [5e5, 1.5e6, 5e6], "speedup": [1.1, 1.2, 1.05],
                                "alpha": [0.4, 0.55, 0.65], "c": [0.05, 0.1, 0.3]}),
    "update-interval": pd.DataFrame({"update_interval": [1, 8, 32], "speedup": [1.5, 1.45, 1.3],
                                     "latency_p50_s": [1.0, 1.02, 1.1]}),
}


@pytest.mark.parametrize("kind", sorted(TABLES))
@pytest.mark.parametrize("ext", [".png", ".svg"])
def test_plot_kinds_render(tmp_path, capsys, kind, ext):
    data = tmp_path / "data.csv"
    TABLES[kind].to_csv(data, index=False)
    out = tmp_path / f"fig{ext}"
    assert main(["plot", kind, str(data), "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == len(TABLES[kind])
    assert out.stat().st_size > 5_000


def test_plot_missing_column_is_one_sentence(tmp_path, capsys):
    data = tmp_path / "d.csv"
    pd.DataFrame({"rate": [1]}).to_csv(data, index=False)
    assert main(["plot", "latency-rate", str(data), "--out", str(tmp_path / "f.png")]) == 2
    assert "needs column" in capsys.readouterr().err


def test_plot_bad_output_suffix(tmp_path, capsys):
    data = tmp_path / "d.csv"
    TABLES["speedup-rate"].to_csv(data, index=False)
    assert main(["plot", "speedup-rate", str(data), "--out", str(tmp_path / "f.jpg")]) == 2
