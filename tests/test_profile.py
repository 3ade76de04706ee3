"""`osdsim profile` times a tiny model built from an HF config and feeds `osdsim calibrate`."""

from __future__ import annotations

import json

import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import osdsim.cli.main as cli_main  # noqa: E402


def osdsim(monkeypatch, capsys, *argv):
    mine = ("import", "calibrate", "validate", "profile")
    monkeypatch.setattr(cli_main, "COMMANDS", tuple(dict.fromkeys((*cli_main.COMMANDS, *mine))))
    code = cli_main.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err

CFG = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 32,
       "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
       "num_key_value_heads": 2, "vocab_size": 128, "max_position_embeddings": 256}


@pytest.mark.real
def test_profile_writes_timings_and_specs_that_calibrate_reads(monkeypatch, capsys, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(CFG))
    out = tmp_path / "timings.csv"
    code, stdout, err = osdsim(monkeypatch, capsys, "profile", "--model", f"tiny={config}", "--gamma", "2",
                               "--context", "0,8", "--prefill", "6", "--repeats", "2", "--warmup", "1",
                               "--threads", "1", "--out", str(out), "--no-progress", "--json")
    assert code == 0, err
    payload = json.loads(stdout)
    rows = pd.read_csv(out)
    assert payload["points"] == len(rows) == 2 * 3 + 1
    assert set(rows["new_tokens"]) == {1, 2, 3, 5} and (rows["seconds"] > 0).all()
    specs = json.loads((tmp_path / "timings.csv.models.json").read_text())
    assert specs["tiny"]["num_layers"] == 2 and specs["tiny"]["hidden_size"] == 32
    code, stdout, err = osdsim(monkeypatch, capsys, "calibrate", "--timings", str(out), "--json")
    assert code == 0, err
    assert json.loads(stdout)["fit"]["points"] == len(rows)


@pytest.mark.real
def test_profile_rejects_an_unknown_source(monkeypatch, capsys, tmp_path):
    code, _, err = osdsim(monkeypatch, capsys, "profile", "--model", "x=not-a-model", "--out",
                          str(tmp_path / "t.csv"))
    assert code == 2 and "small preset" in err
