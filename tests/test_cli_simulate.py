"""``osdsim simulate``: one JSON object on stdout, CSVs with --out, one-sentence errors (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from osdsim.cli import main as cli

EXAMPLES = Path(__file__).parent.parent / "examples" / "scenarios"
CONTRACT_KEYS = {"requests", "finished", "throughput_tok_s", "ttft_p50_s", "ttft_p99_s", "tpot_p50_s",
                 "tpot_p99_s", "latency_p50_s", "latency_p99_s", "mean_tokens_per_step", "mean_alpha",
                 "goodput", "utilisation", "baseline", "speedup"}


@pytest.fixture(autouse=True)
def _simulate_registered(monkeypatch):
    # Until osdsim/cli/main.py lists "simulate" in COMMANDS, register it for these tests.
    if "simulate" not in cli.COMMANDS:
        monkeypatch.setattr(cli, "COMMANDS", (*cli.COMMANDS, "simulate"))


def _run(capsys, *argv):
    code = cli.main(["simulate", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_summary_has_the_contract_keys(capsys):
    code, out, err = _run(capsys, EXAMPLES / "vicuna-a100.yaml", "--json", "--set", "workload.num_requests=60")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    assert set(summary) >= CONTRACT_KEYS
    assert summary["requests"] == 60 and summary["baseline"]["requests"] == 60
    assert summary["baseline"]["mean_alpha"] is None  # NaN → null: plain decoding has no α


def test_toml_example_runs_without_baseline(capsys):
    code, out, _ = _run(capsys, EXAMPLES / "cluster-goodput.toml", "--json", "--no-baseline",
                        "--set", "workload.duration_s=3")
    summary = json.loads(out)
    assert code == 0 and "speedup" not in summary and "baseline" not in summary


def test_out_writes_tables(capsys, tmp_path):
    code, out, _ = _run(capsys, EXAMPLES / "osd-domain-shift.yaml", "--out", tmp_path / "run",
                        "--set", "workload.num_requests=80", "--no-baseline")
    assert code == 0 and "throughput_tok_s" in out
    requests = pd.read_csv(tmp_path / "run" / "requests.csv")
    assert len(requests) == 80 and {"ttft_s", "tpot_s", "latency_s", "finished"} <= set(requests.columns)
    assert len(pd.read_csv(tmp_path / "run" / "steps.csv")) > 0
    assert len(pd.read_csv(tmp_path / "run" / "updates.csv")) > 0
    assert json.loads((tmp_path / "run" / "scenario.json").read_text())["workload"]["num_requests"] == 80


@pytest.mark.parametrize(("argv", "needle"), [
    (["--set", "workload.rate=-3"], "workload.rate"),
    (["--set", "workload.bogus=1"], "workload.bogus"),
    (["--set", "rate"], "key=value"),
    (["--set", "target=no-such-model"], "target: unknown LLM card 'no-such-model'"),
    (["--set", "hardware=tpu9"], "hardware: unknown hardware card"),
    (["--set", "tp=3"], "tp: 3 does not divide"),
    (["--set", "workload.arrival=replay", "--set", "workload.file=nope.csv"], "workload.file"),
])
def test_bad_input_exits_2_with_one_sentence(capsys, argv, needle):
    code, out, err = _run(capsys, EXAMPLES / "vicuna-a100.yaml", "--json", *argv)
    assert code == 2 and out == ""
    assert needle in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_missing_file_exits_2(capsys, tmp_path):
    code, _, err = _run(capsys, tmp_path / "nope.yaml")
    assert code == 2 and "not found" in err
