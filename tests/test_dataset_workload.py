"""workload.dataset: prompt and output lengths drawn from a real dataset's length table."""

from __future__ import annotations

import numpy as np
import pytest

from osdsim.sim import simulate
from osdsim.sim.scenario import load_scenario
from osdsim.trace.lengths import load_table, table_path

ROWS = [(10, 200), (300, 5), (40, 40)]


def _scenario(table, **workload):
    return load_scenario({"gamma": 3, "workload": {"num_requests": 60, "rate": 2.0, "dataset": str(table),
                                                   **workload}})


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "lengths.csv"
    path.write_text("prompt_tokens,output_tokens\n" + "".join(f"{a},{b}\n" for a, b in ROWS))
    return path


def test_requests_take_whole_rows_of_the_table(table):
    result = simulate(_scenario(table), baseline=False)
    pairs = set(zip(result.requests["prompt_tokens"], result.requests["output_tokens"]))
    assert pairs <= set(ROWS) and len(pairs) == 3  # rows stay together; 60 draws reach all three
    assert "lengths from" in result.summary["assumptions"]["workload"]


def test_same_seed_same_draws_and_another_seed_differs(table):
    a = simulate(_scenario(table), baseline=False).requests["prompt_tokens"].to_numpy()
    b = simulate(_scenario(table), baseline=False).requests["prompt_tokens"].to_numpy()
    c = simulate(load_scenario({"seed": 7, "gamma": 3, "workload": {"num_requests": 60, "rate": 2.0,
                                                                      "dataset": str(table)}}),
                 baseline=False).requests["prompt_tokens"].to_numpy()
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_named_dataset_reads_the_cached_table_and_says_how_to_build_a_missing_one(tmp_path, monkeypatch, table):
    monkeypatch.setenv("OSDSIM_CACHE", str(tmp_path / "cache"))
    s = load_scenario({"workload": {"num_requests": 5, "dataset": "sharegpt", "tokenizer": "tok-a"}})
    with pytest.raises(ValueError, match="osdsim lengths --dataset sharegpt --tokenizer tok-a"):
        simulate(s, baseline=False)
    path = table_path("sharegpt", "tok-a")
    path.parent.mkdir(parents=True)
    path.write_text(table.read_text())
    assert simulate(s, baseline=False).requests["prompt_tokens"].isin([10, 300, 40]).all()
    with pytest.raises(ValueError, match="workload.tokenizer"):
        simulate(load_scenario({"workload": {"num_requests": 5, "dataset": "sharegpt"}}), baseline=False)
    with pytest.raises(ValueError, match="workload.tokenizer must name"):
        table_path("sharegpt", "../../etc")


@pytest.mark.parametrize("workload, match", [
    ({"dataset": "sharegpt", "prompt_tokens": 5}, "drop workload.prompt_tokens"),
    ({"tokenizer": "x"}, "give workload.dataset too"),
    ({"dataset": ""}, "workload.dataset"),
])
def test_contradictory_workloads_are_refused(workload, match):
    with pytest.raises(ValueError, match=match):
        load_scenario({"workload": workload})


@pytest.mark.parametrize("text, match", [
    ("prompt_tokens\n5\n", "lacks column"),
    ("prompt_tokens,output_tokens\n5,6\n0,3\n", "line 3"),
    ("prompt_tokens,output_tokens\n5,x\n", "line 2"),
    ("prompt_tokens,output_tokens\n", "rows"),
])
def test_malformed_tables_name_the_file_and_line(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=match) as err:
        load_table(str(path), None)
    assert "bad.csv" in str(err.value)
    with pytest.raises(ValueError, match="no such file"):
        load_table(str(tmp_path / "none.csv"), None)


def test_length_table_counts_with_the_named_tokenizer_and_filters_like_vllm(tmp_path, monkeypatch, capsys):
    pytest.importorskip("tokenizers")
    from tokenizers import Tokenizer, models, pre_tokenizers

    from osdsim.cli.main import main
    from osdsim.real import lengths

    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "a": 1}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    (tmp_path / "tok").mkdir()
    tok.save(str(tmp_path / "tok" / "tokenizer.json"))
    pairs = [("a " * 10, "a " * 20), ("a a", "a " * 50), ("a " * 1100, "a " * 5), ("a " * 900, "a " * 1200)]
    monkeypatch.setattr(lengths, "sharegpt_pairs", lambda limit=None: iter(pairs))
    monkeypatch.setenv("OSDSIM_CACHE", str(tmp_path / "cache"))
    info = lengths.build_table("sharegpt", str(tmp_path / "tok"), progress=False)
    # kept: (10, 20) only; a 2-token prompt, a 1,100-token prompt and 2,100 tokens in all are dropped
    assert info["rows"] == 1 and info["conversations"] == 4
    assert load_table("sharegpt", "tok")[0].tolist() == [10]
    assert main(["lengths", "--tokenizer", str(tmp_path / "none")]) == 2
    assert "no tokenizer.json" in capsys.readouterr().err
