"""Every command README.md documents runs, so the README cannot drift from the code.

The shell blocks (```sh) and Python blocks (```python) of README.md are extracted and run in
order, in a scratch folder that links the repository's inputs (examples/, traces/, .venv/) and
has its own empty out/ and figures/, so nothing committed is overwritten. A block runs as
written unless an HTML comment on the line just above it says otherwise:

- ``<!-- test: skip (REASON) -->``: not run (real training runs, GPUs, the demo, long benchmarks);
  the reason is required.
- ``<!-- test: run with ARGS -->``: ARGS are appended to every ``osdsim simulate``, ``sweep`` and
  ``plan`` command of the block (e.g. ``--set workload.num_requests=50``): a short form of a long run.

A transcript block, whose commands start with ``$ ``, also checks its output: every output line
shown under a command must appear, in order, among the lines the command prints (the README may
leave lines out, never change one). Every command must exit 0.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
LINKED = ("examples", "traces", ".venv", "osdsim", "analysis")
MARKER = re.compile(r"<!--\s*test:\s*(skip|run with)\s*(.*?)\s*-->")


def blocks(text: str) -> list[dict]:
    """Fenced sh and python blocks of ``text``: {lang, body, line, marker, arg}."""
    out, lines = [], text.splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^```(sh|python)\s*$", lines[i])
        if not m:
            i += 1
            continue
        start, body = i, []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        prev = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        mark = MARKER.search(prev)
        out.append({"lang": m.group(1), "body": body, "line": start + 1,
                    "marker": mark.group(1) if mark else None, "arg": mark.group(2) if mark else ""})
        i += 1
    return out


def commands(body: list[str]) -> list[tuple[str, list[str]]]:
    """(command, output lines shown under it) of a shell block; continuation lines joined,
    trailing ``# comments`` dropped; output lines only in ``$ `` transcripts."""
    out: list[tuple[str, list[str]]] = []
    transcript = any(line.startswith("$ ") for line in body)
    pending = ""
    for line in body:
        if transcript and not line.startswith("$ ") and not pending:
            if out and line.strip():
                out[-1][1].append(line.rstrip())
            continue
        text = line[2:] if transcript and line.startswith("$ ") else line
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        text = re.sub(r"\s+#\s[^'\"]*$", "", text)  # a trailing comment (not inside quotes)
        if text.rstrip().endswith("\\"):
            pending += text.rstrip()[:-1].strip() + " "
            continue
        out.append(((pending + text.strip()).strip(), []))
        pending = ""
    return out


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    root = tmp_path_factory.mktemp("readme")
    for name in LINKED:
        if (ROOT / name).exists():
            (root / name).symlink_to(ROOT / name)
    for name in ("out", "figures"):
        (root / name).mkdir()
    return root


ALL = blocks(README.read_text(encoding="utf-8"))


def test_markers_give_reasons():
    for block in ALL:
        if block["marker"] == "skip":
            assert block["arg"].strip("() "), f"README line {block['line']}: a skip needs a reason"


@pytest.mark.slow
def test_every_documented_command_runs(scratch):
    env = {k: v for k, v in os.environ.items() if k != "OSDSIM_MODELS_DIR"}
    env["MPLBACKEND"] = "Agg"
    ran = 0
    for block in ALL:
        if block["marker"] == "skip":
            continue
        where = f"README.md line {block['line']}"
        if block["lang"] == "python":
            done = subprocess.run([str(ROOT / ".venv/bin/python"), "-c", "\n".join(block["body"])], cwd=scratch,
                                  env=env, capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, f"{where}: {done.stderr[-2000:]}"
            ran += 1
            continue
        for command, shown in commands(block["body"]):
            if block["marker"] == "run with" and re.search(r"osdsim (simulate|sweep|plan) ", command):
                command += " " + block["arg"]
            done = subprocess.run(command, shell=True, cwd=scratch, env=env, capture_output=True, text=True,
                                  timeout=300)
            assert done.returncode == 0, f"{where}: {command}\n{done.stderr[-2000:]}"
            printed = [line.rstrip() for line in done.stdout.splitlines()]
            at = 0
            for line in shown:  # every shown line, in order, among the printed ones
                assert line in printed[at:], f"{where}: {command}\nREADME shows {line!r}\nit printed:\n{done.stdout}"
                at = printed.index(line, at) + 1
            ran += 1
    assert ran >= 20


def test_commands_parse_transcripts_and_continuations():
    body = ["$ osdsim a --x 1", "verdict line", "", "$ osdsim b \\", "    --y 2", "out"]
    assert commands(body) == [("osdsim a --x 1", ["verdict line"]), ("osdsim b --y 2", ["out"])]
    assert commands(["osdsim c --z 3   # a comment", "# only a comment"]) == [("osdsim c --z 3", [])]
    assert shlex.split("osdsim c --z 3") == ["osdsim", "c", "--z", "3"]
