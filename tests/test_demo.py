"""The demo: closed-form tables, and the whole loop minus the real run (--skip-real) end to end."""

import json

import pandas as pd
import pytest

from osdsim import cost
from osdsim.cli.demo_stages import speedup_grid
from osdsim.cli.main import main
from osdsim.real.workflow import ResumeMismatch


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
    for name in ("speedup_vs_alpha", "demo_sim_alpha", "demo_speedup_vs_rate", "demo_replicas_vs_load",
                 "demo_smollm2_speedup"):
        png = tmp_path / "fig" / f"{name}.png"
        assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## 5. What-if sweep and capacity plan" in report and "demo_replicas_vs_load.png" in report
    # The committed SQL runs' speedup, one line per draft, read from the traces they name.
    speed = data["committed_speedup"]
    assert [r["draft"] for r in speed] == ["the generic draft", "the offline-distilled draft"]
    for r in speed:
        assert f"Speedup: {r['draft']} adapting online" in report and f"{r['speedup_last']:.2f}×" in report
    # The batch study must show speculation losing at high batch on the A100.
    speeds = [r["speedup_gamma5"] for r in data["batch_study"]]
    assert speeds[0] > 1 > speeds[-1]
    # OSD raises the simulated service's mean alpha over the static draft.
    assert data["service"]["online"]["mean_alpha"] > data["service"]["static"]["mean_alpha"]


def test_live_run_replaces_a_trace_an_older_demo_wrote_with_other_options(tmp_path, monkeypatch):
    import osdsim.cli.cmd_run as cmd_run
    from osdsim.cli import demo_stages

    trace = tmp_path / "osd-run.jsonl"
    trace.write_text("old\n")
    (tmp_path / "osd-run.jsonl.draft.pt").write_text("old checkpoint\n")
    calls = []

    def fake_run(options, out, resume=False):
        calls.append(resume)
        if resume:
            raise ResumeMismatch(f"--resume: {out} was written by a run with other options (stop_tokens: trace [], now [2])")
        assert not trace.exists() and not (tmp_path / "osd-run.jsonl.draft.pt").exists()
        trace.write_text('{"type":"meta","schema_version":1}\n')
        return {}

    monkeypatch.setattr(cmd_run, "record_run", fake_run)
    monkeypatch.setattr(demo_stages, "live_draft", lambda: "draft-folder")
    monkeypatch.setattr("osdsim.trace.blocks.block_table", lambda records, edge: pd.DataFrame())
    payload = demo_stages.real_run(tmp_path, None)
    assert calls == [True, False] and payload["trace_path"] == str(trace)


def test_live_run_passes_other_errors_on(tmp_path, monkeypatch):
    import osdsim.cli.cmd_run as cmd_run
    from osdsim.cli import demo_stages

    (tmp_path / "osd-run.jsonl").write_text("old\n")

    def fake_run(options, out, resume=False):
        raise ValueError("--resume: the trace is locked by PID 1")

    monkeypatch.setattr(cmd_run, "record_run", fake_run)
    monkeypatch.setattr(demo_stages, "live_draft", lambda: "draft-folder")
    with pytest.raises(ValueError, match="locked"):
        demo_stages.real_run(tmp_path, None)
    assert (tmp_path / "osd-run.jsonl").read_text() == "old\n"
