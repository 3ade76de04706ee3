"""A wheel built from the project ships its cards: installed into a fresh virtual environment,
``osdsim cards list`` shows them and ``osdsim speedup`` prices with them (the cards used to live
outside the package: "unknown LLM card …; known: (none)").

Fast and offline: the wheel is built without build isolation from a copy of the package, and
installed with ``pip install --no-deps --no-index`` into a venv made without pip whose
dependencies come from this interpreter's site-packages. Skipped, with the reason, where building
is impossible (no setuptools, no network needed but none available for a missing backend)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)


@pytest.mark.slow
def test_wheel_installs_with_its_cards(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "osdsim", src / "osdsim", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    wheels = tmp_path / "wheels"
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                  "-w", str(wheels), str(src)])
    if built.returncode != 0:
        pytest.skip(f"cannot build a wheel offline here: {built.stderr.strip().splitlines()[-1:]}")
    wheel = next(wheels.glob("osdsim-*.whl"))

    venv = tmp_path / "venv"
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    assert made.returncode == 0, made.stderr
    py = venv / "bin" / "python"
    # Dependencies (numpy, pandas, yaml, ...) from this interpreter's site-packages, after the
    # venv's own: a path line in a .pth file (its editable osdsim finder is not loaded that way).
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index",
                      "-q", str(wheel)])
    if installed.returncode != 0 and "no such option: --python" in installed.stderr:
        pytest.skip("pip is too old for --python")
    assert installed.returncode == 0, installed.stderr

    env = {k: v for k, v in os.environ.items() if k not in ("OSDSIM_MODELS_DIR", "PYTHONPATH")}
    cards = _run([str(venv / "bin" / "osdsim"), "cards", "list"], cwd=tmp_path, env=env)
    assert cards.returncode == 0, cards.stderr
    assert str(venv) in cards.stdout  # the cards come from the installed package, not the checkout
    for name in ("vicuna-7b-v1.3", "llama-3.1-70b", "a100-80g", "h100-sxm", "vllm-v1", "llama.cpp-gpu"):
        assert name in cards.stdout
    speedup = _run([str(venv / "bin" / "osdsim"), "speedup", "--alpha", "0.7", "--target", "llama-3.1-8b",
                    "--draft", "llama-3.2-1b", "--hardware", "l4", "--json"], cwd=tmp_path, env=env)
    assert speedup.returncode == 0, speedup.stderr
    assert '"speedup"' in speedup.stdout
