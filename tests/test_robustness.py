"""Nothing lost, nothing silently wrong: every subcommand fed bad arguments and crafted files ends
with exit 2 and one sentence (never a traceback), in bounded time and memory; two writers on one
output, one is refused and the output is intact; ``--resume`` refuses another run's trace; a
killed ``simulate --out`` or ``calibrate --out`` leaves the old output or the new one; a killed
sweep leaves no worker alive.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from osdsim.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
TRACE = ROOT / "traces" / "samples" / "cpu-small-spec-baseline.jsonl"
OSDSIM = [sys.executable, "-m", "osdsim.cli.main"]


def cli(argv: list[str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``osdsim ARGV`` run in this process, as the console script."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def assert_one_sentence(argv: list[str], code: int, err: str) -> None:
    """Exit 2; stderr ends with exactly one error line (no traceback, no internal error, short)."""
    shown = " ".join(argv)[:300]
    assert code == 2, f"{shown}: exit {code}\n{err[-2000:]}"
    assert "Traceback" not in err, f"{shown}:\n{err[-2000:]}"
    lines = err.strip().splitlines()
    errors = [line for line in lines if "error:" in line]
    assert len(errors) == 1 and lines[-1] == errors[0], f"{shown}: {err[-2000:]}"
    assert "internal error" not in errors[0], f"{shown}: {errors[0]}"
    assert len(errors[0]) <= 500, f"{shown}: a {len(errors[0])}-character error"


# ---- generated bad arguments, every subcommand ---------------------------------------------------

@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Small valid inputs for the options not under test."""
    root = tmp_path_factory.mktemp("inputs")
    (root / "scenario.yaml").write_text("seed: 1\nworkload: {num_requests: 20, rate: 2}\n")
    (root / "table.csv").write_text("rate,speedup\n1,1.2\n2,1.1\n")
    (root / "vllm.log").write_text(
        "INFO 05-01 10:00:00 metrics.py:1] Speculative metrics: Draft acceptance rate: 0.500, System "
        "efficiency: 0.400, Number of speculative tokens: 4, Number of accepted tokens: 200, Number of "
        "draft tokens: 400, Number of emitted tokens: 300.\n")
    (root / "file").write_text("not a folder\n")
    return root


BAD_FLOATS = ["nan", "inf", "-inf", "NaN", "1e999", "banana", ""]
BAD_COUNTS = ["-1", "nan", "1.5", "banana", "99999999999999999999999"]

# Per subcommand: the arguments that make it valid (and cheap) but for the option under test, and
# for each option the bad values it must refuse. {f} is the inputs folder, {o} a fresh output path.
CASES: dict[str, tuple[list[str], dict[str, list[str]]]] = {
    "speedup": (["--c", "0.1", "--alpha", "0.5"], {
        "--alpha": BAD_FLOATS + ["-0.1", "1.5"], "--c": BAD_FLOATS + ["-1"], "--gamma": BAD_COUNTS + ["100000"],
        "--batch": BAD_COUNTS + ["0"], "--tp": BAD_COUNTS + ["0"], "--max-gamma": BAD_COUNTS + ["0", "10000000"],
        "--context": BAD_COUNTS}),
    "cost": (["--model", "llama-160m", "--hardware", "cpu"], {
        "--batch": BAD_COUNTS + ["0", "10000000000"], "--tokens": BAD_COUNTS + ["0"], "--tp": BAD_COUNTS + ["0"],
        "--context": BAD_COUNTS, "--hardware": ["no-such-card", "{f}/file", "{f}"]}),
    "simulate": (["{f}/scenario.yaml", "--no-baseline"], {
        "--workers": BAD_COUNTS + ["0"], "--out": ["{f}/file", "{f}/file/x", "{f}"],
        "--set": ["seed=.nan", "seed=.inf", "seed=-1", "workload.rate=.inf", "workload.rate=0",
                  "workload.num_requests=1e12", "workload.prompt_tokens=.inf", "workload.cv=.nan",
                  "online.interference=.inf", "cost={model: constant, forward_s: {x: .inf}}",
                  "seed=[1,", "gamma=[[[[[[", "max_batch=fast", "kv_reserve=2", "acceptance.alpha=7.5",
                  "workload={rate: 1e300, duration_s: 1e300}", "noequals", "hardware=no-such-card"]}),
    "sweep": (["--evaluator", "roofline", "--out", "{o}.csv"], {
        "--axis": ["alpha=nan", "alpha=7.5", "rate=-1", "rate=inf", "alpha", "gamma=1:2:0",
                   "alpha=0:1:100000000", "seed=nan"],
        "--workers": BAD_COUNTS + ["0"], "--random": BAD_COUNTS + ["0", "100000000"],
        "--set": ["seed=.nan", "workload.rate=[1,"], "--out": ["{f}/file/x.csv"],
        "--address": ["127.0.0.1:1", "nonsense"]}),
    "plan": (["--slo", "tpot_p99_s=0.05", "--set", "workload.num_requests=5", "--modes", "plain"], {
        "--rate": BAD_FLOATS + ["-1", "0"], "--slo": ["tpot_p99_s=nan", "tpot_p99_s=-1", "nonsense=1", "x"],
        "--set": ["seed=.nan", "seed=[1,"], "--out": ["{f}/file/x.csv"]}),
    "run": (["--out", "{o}.jsonl"], {
        "--gamma": BAD_COUNTS + ["100000"], "--temperature": BAD_FLOATS + ["-1"], "--records": BAD_COUNTS + ["0"],
        "--max-new-tokens": BAD_COUNTS + ["0"], "--update-interval": BAD_COUNTS + ["0"],
        "--lr": BAD_FLOATS + ["0", "-1"], "--beta": BAD_FLOATS + ["2"], "--threads": BAD_COUNTS,
        "--seed": BAD_COUNTS, "--device": ["banana", "cuda:x", ""], "--out": ["{f}", "{f}/file/x.jsonl"],
        "--save-draft": ["{f}/file"]}),
    "distill": (["--out", "{o}"], {
        "--lr": BAD_FLOATS + ["0", "-1"], "--epochs": BAD_COUNTS + ["0"], "--prompts-per-domain": BAD_COUNTS + ["0"],
        "--ratio": BAD_FLOATS + ["2"], "--threads": BAD_COUNTS, "--device": ["banana"], "--beta": BAD_FLOATS,
        "--out": ["{f}/file", "{f}/file/x"], "--draft-vocab": BAD_COUNTS + ["0", "1"], "--text-tokens": BAD_COUNTS,
        "--text-lr": BAD_FLOATS + ["0"], "--draft": ["layers:x", "layers:"]}),
    "train": ([], {"--threads": BAD_COUNTS + ["100000"], "--models": ["banana", ",", "target,x"],
                   "--seed": BAD_COUNTS, "--target": ["nope", ""]}),
    "lengths": (["--tokenizer", "{f}"], {"--limit": BAD_COUNTS + ["0"], "--tokenizer": ["{f}/none", "{f}/file", ""],
                                         "--dataset": ["banana"]}),
    "profile": (["--model", "x=target", "--out", "{o}.csv"], {
        "--gamma": BAD_COUNTS, "--repeats": BAD_COUNTS + ["0"], "--warmup": BAD_COUNTS, "--threads": BAD_COUNTS + ["0"],
        "--device": ["banana"], "--batch": ["0", "x", "-1", "1,,nan"], "--context": ["-1", "x"], "--prefill": ["1", "x"],
        "--out": ["{f}/file/x.csv"]}),
    "calibrate": (["--trace", str(TRACE), "--out", "{o}.yaml"], {
        "--records": ["banana", "5:x", "1000:2000"], "--hardware": ["no-such-card"], "--out": ["{f}/file/x.yaml", "{f}"],
        "--target-card": ["no-such-card"]}),
    "validate": ([str(TRACE)], {
        "--repeats": BAD_COUNTS + ["0", "100000000"], "--scale": BAD_FLOATS + ["-1", "0"], "--seed": BAD_COUNTS[:-1],
        "--records": ["banana", "1000:2000"], "--card": ["no-such-card"], "--table": ["{f}/file/x.csv", "{f}"],
        "--figure": ["{f}/file/x.png"]}),
    "import": (["vllm", "{f}/vllm.log"], {
        "--batch": BAD_COUNTS + ["0"], "--context": BAD_COUNTS + ["0"], "--c": BAD_FLOATS + ["-1"],
        "--what-if-gamma": ["nan", "1.5", "-1", "x", "inf"], "--what-if-alpha": ["nan", "2", "x", "-inf"],
        "--out": ["{f}/file/x.jsonl"]}),
    "plot": (["speedup-rate", "{f}/table.csv", "--out", "{o}.png"], {
        "--dpi": BAD_COUNTS + ["0", "100000"], "--out": ["{o}.gif", "{f}/file/x.png"]}),
    "demo": (["--skip-real"], {"--out": ["{f}/file", "{f}/file/x"], "--figures": ["{f}/file"],
                               "--records": BAD_COUNTS + ["0"]}),
}


def _argv(command: str, option: str, value: str, root: Path, out: Path) -> list[str]:
    def fill(text: str) -> str:
        return text.replace("{f}", str(root)).replace("{o}", str(out))

    return [command, *map(fill, CASES[command][0]), f"{option}={fill(value)}"]


def test_every_subcommand_is_fuzzed():
    from osdsim.cli.main import COMMANDS

    assert set(COMMANDS) - set(CASES) <= {"cards"}  # cards: its own test below


@settings(max_examples=60, deadline=20_000, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                      HealthCheck.too_slow])
@given(data=st.data())
def test_bad_arguments_end_in_one_sentence(files, tmp_path, data):
    command = data.draw(st.sampled_from(sorted(CASES)), label="command")
    option = data.draw(st.sampled_from(sorted(CASES[command][1])), label="option")
    value = data.draw(st.sampled_from(CASES[command][1][option]), label="value")
    out = tmp_path / f"out-{abs(hash((command, option, value)))}"
    argv = _argv(command, option, value, files, out)
    started = time.perf_counter()
    code, _, err = cli(argv)
    assert_one_sentence(argv, code, err)
    assert time.perf_counter() - started < 15, argv
    assert not out.exists() and not Path(f"{out}.csv").exists()  # nothing written on a refusal


def test_each_listed_bad_argument_once(files, tmp_path):
    """Every value of the table above, not only those hypothesis drew (fast: each is refused at once)."""
    for command, (_, options) in CASES.items():
        for option, values in options.items():
            for value in values:
                argv = _argv(command, option, value, files, tmp_path / "o")
                code, _, err = cli(argv)
                assert_one_sentence(argv, code, err)


def test_the_guard_turns_any_exception_into_one_sentence(monkeypatch):
    import pickle

    from osdsim.cli import cmd_cost

    for exc, needle in ((TypeError("x" * 5000), "internal error (TypeError"), (RecursionError(), "nested too deeply"),
                        (FileExistsError(17, "File exists", "a/b"), "File exists: a/b"),
                        (pickle.UnpicklingError("bad"), "refused to load"), (MemoryError(), "out of memory")):
        def boom(args, exc=exc):
            raise exc

        monkeypatch.setattr(cmd_cost, "run", boom)
        argv = ["cost", "--model", "llama-160m", "--hardware", "cpu"]
        code, _, err = cli(argv)
        assert code == 2 and needle in err and err.count("\n") == 1 and len(err) < 500, err
    monkeypatch.setenv("OSDSIM_DEBUG", "1")  # the traceback, for whoever debugs it
    with pytest.raises(MemoryError):
        cli(argv)


# ---- crafted files -------------------------------------------------------------------------------

def alias_bomb() -> str:
    lines = ["seed:", "- &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"- &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    return "\n".join(lines) + "\n"


def hardware_card(**changes) -> str:
    fields = {"memory_GB": 24, "bandwidth_GBps": 20, "peak_TFLOPs": {"fp32": 0.12}, "default_dtype": "fp32",
              **changes}
    return "\n".join(f"{k}: {json.dumps(v)}" if not isinstance(v, str) or k == "default_dtype" else f"{k}: {v}"
                     for k, v in fields.items()) + "\n"


def trace_with(line: str) -> str:
    meta = json.dumps({"type": "meta", "schema_version": 1, "target": "t", "draft": "d", "gamma": 2})
    step = json.dumps({"type": "step", "record": 0, "step": 0, "gamma": 2, "drafted": 2, "accepted": 1,
                       "emitted": 2, "draft_s": 0.01, "verify_s": 0.02})
    return "\n".join([meta, step, line]) + "\n"


RECORD = {"type": "record", "record": 0, "domain": "sql", "alpha": 0.5, "num_tokens": 8, "latency_s": 0.1,
          "draft_version": 0}
BINARY = bytes(range(256)) * 8

# (file name, content): each must be refused by every command reading that kind of file.
SCENARIOS = {
    "bomb.yaml": alias_bomb(), "deep.yaml": "a: " + "[" * 3000 + "]" * 3000,
    "deep.toml": "a = " + "[" * 3000 + "]" * 3000, "loop.yaml": "workload: &w {rate: *w}\n",
    "nan.yaml": "seed: .nan\n", "inf.yaml": "workload: {num_requests: .inf}\n",
    "types.yaml": "workload: {rate: fast, num_requests: 5}\n", "list.yaml": "- 1\n- 2\n",
    "binary.yaml": BINARY, "truncated.yaml": "seed: 1\nworkload: {rate: 2, num_req",
    "huge-count.yaml": "workload: {num_requests: 1e300}\n", "tag.yaml": "seed: !!python/object/apply:os.getpid []\n",
    "card-nan.yaml": "hardware: {like: cpu, bandwidth_GBps: .nan}\nworkload: {num_requests: 5}\n",
}
CARDS = {
    "bomb.yaml": alias_bomb(), "deep.yaml": "a: " + "{b: " * 3000 + "1" + "}" * 3000,
    "nan-overhead.yaml": hardware_card(overhead_per_forward_us=".nan"), "nan-peak.yaml": hardware_card(
        peak_TFLOPs={"fp32": float("nan")}).replace("NaN", ".nan"),
    "inf-bandwidth.yaml": hardware_card(bandwidth_GBps=".inf"), "string.yaml": hardware_card(bandwidth_GBps="fast"),
    "negative.yaml": hardware_card(memory_GB=-1), "binary.yaml": BINARY, "empty.yaml": "",
    "name-list.yaml": hardware_card(name="[1, 2]"),
}
TRACES = {
    "nan-latency.jsonl": trace_with(json.dumps({**RECORD, "latency_s": 0}).replace('"latency_s": 0', '"latency_s": NaN')),
    "neg-inf.jsonl": trace_with(json.dumps(RECORD).replace('"latency_s": 0.1', '"latency_s": -Infinity')),
    "negative.jsonl": trace_with(json.dumps({**RECORD, "latency_s": -0.5})),
    "alpha.jsonl": trace_with(json.dumps({**RECORD, "alpha": 7.5})),
    "string.jsonl": trace_with(json.dumps({"type": "step", "record": 0, "step": 1, "gamma": 2, "drafted": 2,
                                           "accepted": 1, "emitted": 2, "draft_s": "fast", "verify_s": 0.02})),
    "deep.jsonl": trace_with("[" * 50_000 + "]" * 50_000), "binary.jsonl": BINARY,
    "truncated.jsonl": '{"type": "meta", "schema_ver', "empty.jsonl": "",
    "accepted.jsonl": trace_with(json.dumps({"type": "step", "record": 0, "step": 1, "gamma": 2, "drafted": 1,
                                             "accepted": 2, "emitted": 3, "draft_s": 0.1, "verify_s": 0.1})),
}
TIMINGS = {
    "nan.csv": "model,batch,new_tokens,context,seconds\nx,1,1,0,nan\n",
    "negative.csv": "model,batch,new_tokens,context,seconds\nx,1,1,0,-0.5\n",
    "string.csv": "model,batch,new_tokens,context,seconds\nx,fast,1,0,0.1\n",
    "missing.csv": "model,seconds\nx,0.1\n", "binary.csv": BINARY, "empty.csv": "",
}


def _commands_for(kind: str, path: Path, out: Path) -> list[list[str]]:
    p = str(path)
    return {
        "scenario": [["simulate", p, "--no-baseline", "--out", str(out)],
                     ["sweep", p, "--evaluator", "roofline", "--axis", "alpha=0.5", "--out", f"{out}.csv"],
                     ["plan", p, "--slo", "tpot_p99_s=0.05", "--modes", "plain"]],
        "card": [["cost", "--model", "llama-160m", "--hardware", p],
                 ["speedup", "--alpha", "0.5", "--target", "llama-160m", "--draft", "llama-68m", "--hardware", p],
                 ["validate", str(TRACE), "--card", p]],
        "trace": [["validate", p], ["calibrate", "--trace", p, "--out", f"{out}.yaml"],
                  ["plot", "alpha-records", p, "--out", f"{out}.png"]],
        "timings": [["calibrate", "--timings", p, "--out", f"{out}.yaml"], ["plot", "speedup-rate", p, "--out", f"{out}.png"]],
    }[kind]


@pytest.mark.parametrize("kind,catalogue", [("scenario", SCENARIOS), ("card", CARDS), ("trace", TRACES),
                                            ("timings", TIMINGS)])
def test_crafted_files_end_in_one_sentence_in_bounded_time_and_memory(tmp_path, kind, catalogue):
    for name, content in catalogue.items():
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        for argv in _commands_for(kind, path, tmp_path / "out"):
            measure = name.startswith(("bomb", "deep", "loop"))  # tracemalloc is slow: where memory is at stake
            if measure:
                tracemalloc.start()
            started = time.perf_counter()
            code, _, err = cli(argv)
            if measure:
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                assert peak < 300e6, f"{argv}: {peak / 1e6:.0f} MB"
            assert_one_sentence(argv, code, err)
            assert time.perf_counter() - started < 15, argv
            assert not any(p.name.startswith("out") for p in tmp_path.iterdir()), argv


def test_cards_new_refuses_bad_fields(tmp_path):
    for value in ("bandwidth_GBps=.nan", "bandwidth_GBps=fast", "memory_GB=-1", "peak_TFLOPs=[1,",
                  "bandwidth_GBps=1", "x.y=1"):
        argv = ["cards", "new", "--like", "cpu", "--kind", "hardware", "--set", value, "--set",
                "bandwidth_GBps=.inf" if value == "bandwidth_GBps=1" else "source=x", "--out", str(tmp_path / "c.yaml")]
        code, _, err = cli(argv)
        assert_one_sentence(argv, code, err)
    assert not (tmp_path / "c.yaml").exists()


def test_a_whole_last_line_without_newline_is_kept_and_resume_appends_after_it(tmp_path):
    from osdsim.trace import prepare_resume, read_trace

    lines = TRACE.read_text().splitlines()
    records = [i for i, line in enumerate(lines) if '"mode":"speculative"' in line.replace(" ", "")]
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(lines[: records[2] + 1]))  # the third record's line, no newline after it
    trace = read_trace(path)
    assert len(trace.records) == 6 and not trace.cut  # (each with its baseline record)
    path.write_text("\n".join(lines[: records[2] + 1])[:-5])  # that line cut by a killed writer
    trace = read_trace(path)
    assert len(trace.records) == 5 and trace.cut
    path.write_text("\n".join(lines[: records[2] + 1]))
    assert len(prepare_resume(path).records) == 6 and path.read_bytes().endswith(b"\n")


def test_scenario_numbers_as_yaml_12_and_toml_read_them(tmp_path):
    from osdsim.sim import load_scenario

    (tmp_path / "s.yaml").write_text("workload: {rate: 1e3, num_requests: 5}\n")
    assert load_scenario(tmp_path / "s.yaml").workload.rate == 1000.0


def test_outputs_go_where_asked_and_defaults_replace_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sweep.csv").write_text("someone's table\n")
    argv = ["sweep", "--evaluator", "roofline", "--axis", "alpha=0.5"]
    code, _, err = cli(argv)
    assert_one_sentence(argv, code, err)
    assert "give --out" in err and (tmp_path / "sweep.csv").read_text() == "someone's table\n"
    (tmp_path / "sweep.csv").unlink()
    code, _, err = cli(argv)
    assert code == 0 and "writing sweep.csv" in err and (tmp_path / "sweep.csv").exists()
    # The demo's figures go into its --out folder unless --figures names another (make demo: figures/).
    from osdsim.cli import demo_stages

    def stop(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(demo_stages, "closed_forms", stop)
    assert cli(["demo", "--skip-real", "--out", "d"])[0] == 130
    assert (tmp_path / "d" / "figures").is_dir() and not (tmp_path / "figures").exists()


# ---- one writer per output -----------------------------------------------------------------------

HOLD = ("import sys, time\nfrom osdsim.safe.lock import OutputLock\nOutputLock(sys.argv[1]).acquire()\n"
        "print('held', flush=True)\ntime.sleep(60)\n")


@contextlib.contextmanager
def held(path: Path):
    """Another process writing ``path`` (holding its lock) for the ``with`` block; yields its PID."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stdout.readline().strip() == "held"
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("argv", [
    ["run", "--out", "{out}", "--schedule", "sql:2"], ["run", "--out", "{out}", "--resume"],
    ["sweep", "--evaluator", "roofline", "--axis", "alpha=0.5", "--out", "{out}"],
    ["simulate", "{scenario}", "--out", "{out}"], ["calibrate", "--trace", str(TRACE), "--out", "{out}"],
    ["import", "vllm", "{log}", "--out", "{out}"], ["plot", "speedup-rate", "{table}", "--out", "{out}.png"],
    ["validate", str(TRACE), "--table", "{out}"],
])
def test_a_second_writer_is_refused_and_the_output_left_intact(files, tmp_path, argv):
    out = tmp_path / "output"
    out.write_text("the first writer's bytes\n")
    if argv[0] == "plot":
        out = Path(f"{out}.png")
        out.write_text("the first writer's bytes\n")
    argv = [a.format(out=tmp_path / "output", scenario=files / "scenario.yaml", log=files / "vllm.log",
                     table=files / "table.csv") for a in argv]
    if argv[0] == "simulate":  # a folder output
        out.unlink()
        out.mkdir()
        (out / "summary.json").write_text("the first writer's bytes\n")
        out = out / "summary.json"
    with held(tmp_path / "output" if argv[0] != "plot" else Path(f"{tmp_path / 'output'}.png")) as pid:
        code, _, err = cli(argv)
    assert_one_sentence(argv, code, err)
    assert f"being written by process {pid}" in err
    assert out.read_text() == "the first writer's bytes\n"


def test_two_sweeps_started_together_one_refused_the_table_whole(tmp_path):
    out = tmp_path / "sweep.csv"
    argv = [*OSDSIM, "sweep", "--axis", "rate=1,2,3,4,5,6", "--set", "workload.num_requests=1000", "--workers", "1",
            "--out", str(out), "--json"]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
             for _ in range(2)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2], results
    (refused_err,) = [err for code, _, err in results if code == 2]
    (winner,) = [p for p, (code, _, _) in zip(procs, results) if code == 0]
    assert f"being written by process {winner.pid}" in refused_err and "Traceback" not in refused_err
    import pandas as pd

    table = pd.read_csv(out)
    assert sorted(table["workload.rate"]) == [1, 2, 3, 4, 5, 6] and table["speedup"].notna().all()
    assert not list(tmp_path.glob("sweep.csv.*"))  # no journal, no lock, no temporary left


# ---- kill during write ---------------------------------------------------------------------------

def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.slow
def test_simulate_killed_while_writing_leaves_the_old_output_whole(tmp_path):
    (tmp_path / "small.yaml").write_text("seed: 1\nworkload: {num_requests: 30, rate: 2}\n")
    (tmp_path / "big.yaml").write_text("seed: 2\nworkload: {num_requests: 4000, rate: 20}\n")
    out = tmp_path / "out"
    assert cli(["simulate", str(tmp_path / "small.yaml"), "--out", str(out), "--no-baseline"])[0] == 0
    old = _snapshot(out)
    assert set(old) == {"requests.csv", "steps.csv", "updates.csv", "summary.json", "scenario.json"}
    proc = subprocess.Popen([*OSDSIM, "simulate", str(tmp_path / "big.yaml"), "--out", str(out), "--no-baseline"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    caught = False
    while proc.poll() is None:  # kill it the moment its new files are being written
        if any(p.name.startswith(".out.") for p in tmp_path.iterdir()):
            proc.send_signal(signal.SIGKILL)
            caught = True
            break
        time.sleep(0.001)
    proc.wait()
    new = _snapshot(out)
    assert new == old if caught else json.loads(new["summary.json"])["requests"] == 4000
    assert caught, "the write finished before the test could kill it"
    # The next writer is not blocked by the dead one, and replaces the folder whole.
    assert cli(["simulate", str(tmp_path / "big.yaml"), "--out", str(out), "--no-baseline"])[0] == 0
    assert json.loads((out / "summary.json").read_text())["requests"] == 4000


def test_a_failure_while_writing_leaves_the_old_outputs(tmp_path, monkeypatch, files):
    """The moment between a complete temporary file and its rename, simulated: the old card and the
    old --out folder stay as they were, and no temporary file is left beside them."""
    import osdsim.safe.atomic as atomic

    card, out = tmp_path / "card.yaml", tmp_path / "out"
    card.write_text("old card\n")
    out.mkdir()
    (out / "summary.json").write_text("old summary\n")

    def killed(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, "replace", killed)
    monkeypatch.setattr(atomic.os, "rename", killed)
    monkeypatch.setattr(atomic, "_exchange", lambda a, b: killed())
    assert cli(["calibrate", "--trace", str(TRACE), "--out", str(card)])[0] == 130
    assert cli(["simulate", str(files / "scenario.yaml"), "--out", str(out), "--no-baseline"])[0] == 130
    assert card.read_text() == "old card\n" and (out / "summary.json").read_text() == "old summary\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.slow
def test_calibrate_killed_at_any_moment_leaves_the_old_card_or_the_new(tmp_path):
    card = tmp_path / "card.yaml"
    card.write_text("old card\n")
    argv = [*OSDSIM, "calibrate", "--trace", str(TRACE), "--out", str(card)]
    started = time.perf_counter()
    assert subprocess.run(argv, capture_output=True, cwd=tmp_path).returncode == 0
    runtime = time.perf_counter() - started
    new = card.read_text()
    assert new.startswith("#") or "bandwidth" in new
    for fraction in (0.8, 1.0):
        card.write_text("old card\n")
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
        time.sleep(runtime * fraction)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert card.read_text() in ("old card\n", new)


# ---- a killed sweep leaves no worker -------------------------------------------------------------

def _children(pid: int) -> set[int]:
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                out.add(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return False


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_a_killed_sweep_leaves_no_worker_alive(tmp_path, signum):
    argv = [*OSDSIM, "sweep", "--axis", "rate=1,2,3,4,5,6,7,8", "--set", "workload.num_requests=3000",
            "--workers", "2", "--out", str(tmp_path / "sweep.csv")]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    deadline = time.monotonic() + 60
    workers: set[int] = set()
    while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
        workers = {w for w in _children(proc.pid) if "spawn_main" in Path(f"/proc/{w}/cmdline").read_text()}
        time.sleep(0.05)
    assert len(workers) == 2, "no workers started"
    time.sleep(1.0)  # workers busy with their points
    proc.send_signal(signum)
    code = proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(w) for w in workers)
    if signum == signal.SIGTERM:
        err = proc.stderr.read()
        assert code == 128 + signal.SIGTERM and "stopped by SIGTERM" in err and "Traceback" not in err
    assert not (tmp_path / "sweep.csv").exists()  # never a partial table


# ---- the README says what is guaranteed, and where it is tested -----------------------------------

def test_readme_lists_the_guarantees_and_their_tests():
    text = (ROOT / "README.md").read_text()
    section = re.search(r"## Robustness\n(.*?)\n## ", text, re.S)
    assert section, "README.md has no Robustness section"
    for test in ("tests/test_robustness.py", "tests/test_safe.py"):
        assert test in section.group(1)
    assert text.index("## Robustness") < text.index("## Known limits")



@pytest.mark.parametrize("arrivals, message", [
    ([0.0, 1.0, float("nan")], r"row 3: arrival_s must be a finite number >= 0, got nan"),
    ([0.0, float("inf"), 2.0], r"row 2: arrival_s must be a finite number >= 0, got inf"),
    ([0.0, 1.0, "soon"], "must be numbers"),
])
def test_a_replayed_workload_refuses_non_finite_arrivals(arrivals, message):
    import pandas as pd

    from osdsim.sim.workload import from_frame

    frame = pd.DataFrame({"arrival_s": arrivals, "prompt_tokens": [8, 8, 8], "output_tokens": [4, 4, 4]})
    with pytest.raises(ValueError, match=message):
        from_frame(frame, where="workload.file w.csv")
