"""The import rules of docs/architecture.md: every layer imports only the layers below it.

Every ``import`` and ``from … import`` of every module is read with ``ast`` (imports inside
functions included), resolved to its osdsim package or its third-party top-level name, and
checked against :data:`MAY_IMPORT` and :data:`ONLY_IN` below, the same tables as
docs/architecture.md. A second test imports the light layers in a fresh interpreter and checks
that neither torch, transformers nor matplotlib was loaded.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The layers, lowest first, and the osdsim packages each may import besides itself. The root
# package ``osdsim`` (its __version__) may be imported by every module. ``safe`` (input checks,
# safe loaders, atomic writers, locks) is the bottom: everyone may import it, it imports no layer.
SAFE, SPECS, TRACE, COST, ACCEPTANCE, SIM = "safe", "specs", "trace", "cost", "acceptance", "sim"
CALIBRATE, VALIDATE, PLOTS, SWEEP, PLAN, REAL, CLI = "calibrate", "validate", "plots", "sweep", "plan", "real", "cli"
MAY_IMPORT: dict[str, set[str]] = {
    SAFE: set(),
    SPECS: {SAFE},
    TRACE: {SAFE, SPECS},
    COST: {SAFE, SPECS},
    ACCEPTANCE: {SAFE, SPECS, TRACE, COST},
    SIM: {SAFE, SPECS, TRACE, COST, ACCEPTANCE},
    CALIBRATE: {SAFE, SPECS, TRACE, COST, ACCEPTANCE, SIM},
    VALIDATE: {SAFE, SPECS, TRACE, COST, ACCEPTANCE, SIM, CALIBRATE},
    PLOTS: {SAFE, SPECS, TRACE, COST, ACCEPTANCE, SIM, CALIBRATE, VALIDATE},
    SWEEP: {SAFE, SPECS, TRACE, COST, ACCEPTANCE, SIM, CALIBRATE, VALIDATE, PLOTS},
    PLAN: {SAFE, SPECS, TRACE, COST, ACCEPTANCE, SIM, CALIBRATE, VALIDATE, PLOTS, SWEEP},
    REAL: {SAFE, SPECS, TRACE, COST},
    CLI: {SAFE, SPECS, TRACE, COST, ACCEPTANCE, SIM, CALIBRATE, VALIDATE, PLOTS, SWEEP, PLAN, REAL},
}
# Third-party packages only these layers may import (the CLI calls plots, it does not draw).
REAL_ONLY = ("torch", "transformers", "safetensors", "tokenizers", "tqdm")
ONLY_IN: dict[str, set[str]] = {
    **{name: {REAL} for name in REAL_ONLY},
    "matplotlib": {PLOTS},
    "simpy": {SIM},
    "ray": {SWEEP},
}
# Third-party packages the data and cost layers may import at all: the cost model is pure numpy,
# traces are data (no fitting: scipy sits in calibrate).
THIRD_PARTY_ONLY: dict[str, set[str]] = {
    SAFE: {"numpy", "yaml", "tomli"},  # tomli: tomllib on Python 3.10
    COST: {"numpy"},
    TRACE: {"numpy", "pandas"},
}
# Folders outside the package: they may use any layer but never the CLI's modules (the console
# command in a subprocess is fine; tests exercise the CLI and are not scanned).
OUTSIDE = ("analysis", "benchmarks")

# Known edges that break the rules, each named by file and to be removed; an entry that no
# longer matches anything fails the test, so the list cannot go stale.
ALLOWED: set[tuple[str, str]] = {
    # benchmarks/bench_real.py prints its table with the CLI's formatter (osdsim.cli.common.table);
    # benchmarks belong to the lead: move the formatter or format the table in the script.
    ("benchmarks/bench_real.py", "osdsim.cli"),
}

STDLIB = set(sys.stdlib_module_names)


def _modules(folder: Path):
    for path in sorted(folder.rglob("*.py")):
        if "__pycache__" not in path.parts:
            yield path


def _imports(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, dotted name) of every import in ``path`` (a file under ``root``), inside functions
    too, relative imports resolved; ``from osdsim import cost`` counts as ``osdsim.cost``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = list(path.relative_to(root).parts[:-1])
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module == "osdsim":
                out += [(node.lineno, f"osdsim.{alias.name}") for alias in node.names]
            else:
                out.append((node.lineno, module))
    return out


def _layer(dotted: str) -> str | None:
    """The layer of an osdsim module name ("osdsim" alone: the root package, None)."""
    parts = dotted.split(".")
    if parts[0] != "osdsim" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in MAY_IMPORT else None


def _violations() -> list[tuple[str, str, str]]:
    """(file:line, imported name, which rule) of every import that breaks a rule."""
    found = []
    for path in _modules(ROOT / "osdsim"):
        rel = str(path.relative_to(ROOT))
        mine = _layer(".".join(path.relative_to(ROOT).with_suffix("").parts))
        for line, name in _imports(path):
            top = name.split(".")[0]
            where = f"{rel}:{line}"
            if top == "osdsim":
                theirs = _layer(name)
                if theirs is None or theirs == mine:
                    continue
                if mine is None or theirs not in MAY_IMPORT[mine]:
                    found.append((where, f"osdsim.{theirs}", f"{mine or 'osdsim'} may not import {theirs}"))
            elif top in ONLY_IN and mine not in ONLY_IN[top]:
                found.append((where, top, f"only {', '.join(sorted(ONLY_IN[top]))} may import {top}"))
            elif mine in THIRD_PARTY_ONLY and top not in STDLIB and top not in THIRD_PARTY_ONLY[mine]:
                found.append((where, top, f"{mine} imports only the stdlib and {', '.join(sorted(THIRD_PARTY_ONLY[mine]))}"))
    for folder in OUTSIDE:
        for path in _modules(ROOT / folder):
            for line, name in _imports(path):
                if name == "osdsim.cli" or name.startswith("osdsim.cli."):
                    found.append((f"{path.relative_to(ROOT)}:{line}", "osdsim.cli", "only the CLI imports osdsim.cli"))
    return found


def test_the_tables_agree_on_the_layers():
    assert set(THIRD_PARTY_ONLY) <= set(MAY_IMPORT)
    assert all(layers <= set(MAY_IMPORT) for layers in ONLY_IN.values())
    for layer, below in MAY_IMPORT.items():
        assert layer not in below and CLI not in below, layer  # nothing imports the CLI
        for other in below:  # no cycles: what a layer may import may not import it back
            assert layer not in MAY_IMPORT[other], (layer, other)


def test_every_import_points_down_the_layers():
    found = _violations()
    unexpected = [f for f in found if (f[0].split(":")[0], f[1]) not in ALLOWED]
    assert not unexpected, "imports against docs/architecture.md:\n" + "\n".join(
        f"  {where}: {name} ({why})" for where, name, why in unexpected)
    stale = ALLOWED - {(f[0].split(":")[0], f[1]) for f in found}
    assert not stale, f"allow-list entries that no longer match an import, remove them: {sorted(stale)}"


def test_the_checker_sees_every_kind_of_import(tmp_path):
    probe = tmp_path / "osdsim" / "validate" / "probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text("import numpy as np\nfrom osdsim import cost\n\n\ndef f():\n    import torch\n"
                     "    from osdsim.cli import main\n    from . import report\n    from ..sim import run\n")
    assert [name for _, name in _imports(probe, tmp_path)] == [
        "numpy", "osdsim.cost", "torch", "osdsim.cli", "osdsim.validate", "osdsim.sim"]


LIGHT = ("osdsim", "osdsim.safe", "osdsim.specs", "osdsim.trace", "osdsim.trace.importers", "osdsim.cost",
         "osdsim.acceptance", "osdsim.sim", "osdsim.calibrate", "osdsim.calibrate.curves",
         "osdsim.calibrate.workflow", "osdsim.validate.core", "osdsim.validate.workflow",
         "osdsim.validate.simulated", "osdsim.sweep", "osdsim.plan", "osdsim.real", "osdsim.real.workflow",
         "osdsim.real.model_workflows", "osdsim.plan.workflow",
         "osdsim.real.corpus")


HEAVY = ("torch", "transformers", "matplotlib")


def test_light_layers_load_no_torch_or_matplotlib():
    """``import osdsim``, the cost model, the simulator and everything but the real runs' and the
    figures' modules import without torch, transformers or matplotlib; so does building the CLI's
    parser, which imports every subcommand module."""
    code = (f"import importlib, sys\nfor m in {LIGHT!r}:\n    importlib.import_module(m)\n"
            "from osdsim.cli.main import build_parser\nbuild_parser()\n"
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == ""
