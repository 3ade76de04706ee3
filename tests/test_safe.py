"""osdsim.safe, the bottom layer: bounded loaders, number checks, short quotes, atomic writers,
single-writer locks and workers that die with their parent."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from osdsim.safe import (
    InputError,
    LockedError,
    OutputLock,
    atomic_dir,
    atomic_file,
    check_number,
    load_json,
    load_toml,
    load_yaml,
    short,
    write_text_atomic,
)

ROOT = Path(__file__).resolve().parents[1]


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """A "billion laughs": ``width ** levels`` strings once expanded, a few hundred bytes written."""
    lines = ["seed:", f"- &a0 [{', '.join(['lol'] * width)}]"]
    for i in range(1, levels):
        lines.append(f"- &a{i} [{', '.join([f'*a{i - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


# ---- loaders -------------------------------------------------------------------------------------

def test_an_alias_bomb_is_refused_at_once_in_bounded_memory():
    text = alias_bomb()
    assert len(text) < 500
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(InputError, match="alias"):
        load_yaml(text, "bomb.yaml")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert time.perf_counter() - started < 1.0 and peak < 20e6


def test_yaml_depth_recursion_and_tags_are_refused():
    with pytest.raises(InputError, match="nested deeper"):
        load_yaml("a: " + "[" * 5000 + "]" * 5000, "deep.yaml")
    with pytest.raises(InputError, match="contains it"):
        load_yaml("a: &a [1, *a]", "loop.yaml")
    with pytest.raises(InputError, match="not valid YAML"):
        load_yaml("a: !!python/object/apply:os.system [echo hi]", "tag.yaml")
    with pytest.raises(InputError, match="line 2"):
        load_yaml("a: [1\n", "cut.yaml")
    # Deep through chains of aliases (each anchor shallow) is deep all the same.
    chain = ["a0: &a0 [1]"] + [f"a{i}: &a{i} [[*a{i - 1}]]" for i in range(1, 60)]
    with pytest.raises(InputError, match="nested deeper"):
        load_yaml("\n".join(chain), "chain.yaml")


def test_yaml_keeps_ordinary_anchors_and_reads_yaml_12_floats():
    data = load_yaml("len: &l {dist: fixed, mean: 64}\nprompt: *l\nout: *l\nrate: 1e3\nsmall: -2E-5\n"
                     "version: v1e3\nclock: '1:30'\n", "ok.yaml")
    assert data["prompt"] == data["out"] == {"dist": "fixed", "mean": 64}
    assert data["rate"] == 1000.0 and data["small"] == -2e-5 and data["version"] == "v1e3"
    assert load_yaml("", "empty.yaml") is None


def test_json_and_toml_are_bounded():
    with pytest.raises(InputError, match="NaN"):
        load_json('{"latency_s": NaN}', "t.jsonl:2")
    with pytest.raises(InputError, match="Infinity"):
        load_json('[-Infinity]', "x")
    with pytest.raises(InputError, match="nested"):
        load_json("[" * 100_000 + "]" * 100_000, "deep.json")
    assert load_json('{"a": NaN}', "journal", allow_nan=True)["a"] != 0
    with pytest.raises(InputError, match="nested"):
        load_toml("a = " + "[" * 3000 + "]" * 3000, "deep.toml")
    with pytest.raises(InputError, match="not valid TOML"):
        load_toml("seed = \n", "bad.toml")


# ---- numbers and quotes --------------------------------------------------------------------------

@settings(max_examples=150, deadline=None)
@given(value=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(), st.booleans(),
                       st.text(max_size=5), st.none(), st.lists(st.integers(), max_size=3)),
       integer=st.booleans())
def test_check_number_returns_a_finite_number_in_range_or_one_sentence(value, integer):
    try:
        got = check_number(value, "field", minimum=0, maximum=100, integer=integer)
    except InputError as exc:
        assert str(exc).startswith("field must be") and "\n" not in str(exc)
        return
    assert math.isfinite(got) and 0 <= got <= 100 and not isinstance(value, (bool, str))
    assert isinstance(got, int) if integer else isinstance(got, float)


def test_short_quotes_a_prefix_of_anything():
    bomb = ["lol"]
    for _ in range(40):
        bomb = [bomb] * 9  # 9**40 leaves once expanded: repr() would never end
    assert len(short(bomb)) <= 60 and len(short("x" * 10**6)) <= 60
    assert short(float("nan")) == "nan"


# ---- atomic outputs ------------------------------------------------------------------------------

def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_atomic_file_replaces_whole_or_not_at_all(tmp_path):
    card = tmp_path / "card.yaml"
    card.write_text("old\n")
    os.chmod(card, 0o640)
    with pytest.raises(KeyboardInterrupt), atomic_file(card) as tmp:  # killed mid-write
        tmp.write_text("half of the new")
        raise KeyboardInterrupt
    assert card.read_text() == "old\n" and _leftovers(tmp_path) == []
    write_text_atomic(card, "new\n")
    assert card.read_text() == "new\n" and (card.stat().st_mode & 0o777) == 0o640
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match="is a file, not a folder"):
        write_text_atomic(tmp_path / "file" / "out.csv", "x")
    with pytest.raises(InputError, match="is a folder"):
        write_text_atomic(tmp_path, "x")


def test_atomic_dir_swaps_a_whole_folder_and_refuses_foreign_files(tmp_path):
    out = tmp_path / "out"
    names = ("a.csv", "summary.json")
    with atomic_dir(out, names) as stage:
        (stage / "a.csv").write_text("1\n")
        (stage / "summary.json").write_text("{}\n")
    assert sorted(p.name for p in out.iterdir()) == ["a.csv", "summary.json"]
    with pytest.raises(RuntimeError), atomic_dir(out, names) as stage:
        (stage / "a.csv").write_text("2\n")
        raise RuntimeError("killed")
    assert (out / "a.csv").read_text() == "1\n" and _leftovers(tmp_path) == []
    with atomic_dir(out, names) as stage:
        (stage / "a.csv").write_text("3\n")
    assert [p.name for p in out.iterdir()] == ["a.csv"] and (out / "a.csv").read_text() == "3\n"
    (out / "mine.txt").write_text("the user's")
    with pytest.raises(InputError, match="holds other files"), atomic_dir(out, names):
        pass
    assert (out / "mine.txt").exists() and _leftovers(tmp_path) == []


# ---- one writer per output -----------------------------------------------------------------------

HOLD = ("import sys, time\nfrom osdsim.safe.lock import OutputLock\nOutputLock(sys.argv[1]).acquire()\n"
        "print('held', flush=True)\ntime.sleep(60)\n")


def hold_lock(path: Path) -> subprocess.Popen:
    """Another process holding ``path``'s lock (killed by the caller)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_writer_is_refused_naming_the_holder(tmp_path):
    out = tmp_path / "trace.jsonl"
    holder = hold_lock(out)
    try:
        with pytest.raises(LockedError, match=f"process {holder.pid}"), OutputLock(out):
            pass
    finally:
        holder.kill()
        holder.wait()
    # The kernel dropped the dead holder's lock: its stale lock file blocks nobody.
    assert (tmp_path / "trace.jsonl.lock").exists()
    with OutputLock(out), OutputLock(out):  # the same process may nest
        assert (tmp_path / "trace.jsonl.lock").read_text().strip() == str(os.getpid())
    assert not (tmp_path / "trace.jsonl.lock").exists()


# ---- workers die with their parent ---------------------------------------------------------------

PARENT = """
import multiprocessing as mp, os, time
from osdsim.safe.procs import die_with_parent

def worker(parent):
    die_with_parent(parent, 0.2)
    time.sleep(60)

if __name__ == "__main__":
    p = mp.get_context("spawn").Process(target=worker, args=(os.getpid(),))
    p.start()
    print(p.pid, flush=True)
    time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_die_with_parent_ends_a_worker_whose_parent_was_killed(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    worker = int(parent.stdout.readline())
    time.sleep(0.5)  # the worker has run its initializer
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 5
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(worker)
