"""Defects a planner tripped on: a Parquet sweep with a mixed γ axis, plots that could not read
the tables the commands write, the simulator's timeline for Perfetto, service metrics."""

import json

import pandas as pd
import pytest

from osdsim.cli.main import main
from osdsim.sweep.files import write_table

SCEN = "examples/scenarios/vicuna-a100.yaml"


def test_mixed_type_axis_writes_parquet(tmp_path):
    pytest.importorskip("pyarrow")
    df = pd.DataFrame({"gamma": [0, 3, "goodput"], "speedup": [1.0, 2.0, 2.1], "window": [[1.0, 2.0]] * 3})
    write_table(df, tmp_path / "t.parquet")  # raised "Could not convert 'goodput' ... int64"
    back = pd.read_parquet(tmp_path / "t.parquet")
    assert list(back["gamma"]) == ["0", "3", "goodput"] and list(back["speedup"]) == [1.0, 2.0, 2.1]


@pytest.mark.slow
def test_every_plot_reads_the_tables_its_commands_write(tmp_path, capsys):
    sweep = tmp_path / "sweep.csv"
    assert main(["sweep", SCEN, "--axis", "rate=2,8", "--axis", "gamma=0,goodput", "--set",
                 "workload.num_requests=30", "--out", str(sweep)]) == 0
    out = capsys.readouterr().out
    assert "workload.rate" in out and "speedup" in out  # the table shows the axes and the speedup
    for kind in ("speedup-rate", "latency-rate", "tpot-rate"):
        assert main(["plot", kind, str(sweep), "--out", str(tmp_path / f"{kind}.png")]) == 0
    interval = tmp_path / "interval.csv"
    assert main(["sweep", "examples/scenarios/osd-domain-shift.yaml", "--axis", "update_interval=4,16",
                 "--set", "workload.num_requests=40", "--out", str(interval)]) == 0
    assert main(["plot", "update-interval", str(interval), "--out", str(tmp_path / "i.png")]) == 0
    plan = tmp_path / "plan.csv"
    assert main(["plan", SCEN, "--slo", "tpot_p99_s=0.05", "--rate", "4", "--rate", "8", "--tp", "1",
                 "--draft-tp", "1", "--set", "workload.num_requests=40", "--out", str(plan)]) == 0
    # a plan table has a row per candidate (it raised a TypeError on a Series)
    assert main(["plot", "replicas-load", str(plan), "--out", str(tmp_path / "plan.png")]) == 0


def test_titles_name_the_pair_gpu_and_alpha():
    from osdsim.plots.style import context, wrap

    df = pd.DataFrame({"assumptions.target": ["vicuna-7b-v1.3"] * 2, "assumptions.draft": [None, "llama-160m"],
                       "assumptions.hardware": ["a100-80g"] * 2, "assumptions.framework": ["vllm-v1"] * 2,
                       "assumptions.acceptance": ["none (plain decoding)", "constant alpha 0.7"]})
    assert context(df) == "vicuna-7b-v1.3 + llama-160m on a100-80g (vllm-v1), constant α 0.7"
    assert all(len(line) <= 62 for line in wrap("x " * 80).splitlines())  # long titles wrap, not clip


def test_chrome_trace_and_service_metrics(tmp_path, capsys):
    trace = tmp_path / "trace.json"
    assert main(["simulate", SCEN, "--set", "workload.num_requests=30", "--chrome-trace", str(trace)]) == 0
    text = capsys.readouterr().out
    assert "plain decoding's mean latency" in text and "served" in text  # the latencies behind the speedup
    events = json.loads(trace.read_text())["traceEvents"]
    spans = [e for e in events if e["ph"] == "X"]
    assert spans and all(e["dur"] > 0 and e["ts"] >= 0 for e in spans)
    assert {e["name"] for e in spans} <= {"decode", "prefill", "mixed"}
    capsys.readouterr()
    assert main(["simulate", SCEN, "--set", "workload.num_requests=30", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    for key in ("ttft_p90_s", "tpot_p95_s", "itl_p99_s", "latency_p90_s", "served_ratio"):
        assert summary[key] is not None
    assert summary["itl_p50_s"] <= summary["itl_p99_s"]


def test_one_progress_flag_everywhere():
    from osdsim.cli.main import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices
    for name in ("sweep", "plan", "run", "train", "distill", "profile"):
        flags = {o for a in sub[name]._actions for o in a.option_strings}
        assert {"--progress", "--no-progress"} <= flags, name
        assert "--quiet" not in flags
