"""Shared bits of the analysis scripts: the repo's folders and a figure writer."""

from __future__ import annotations

import glob
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "figures"
sys.path.insert(0, str(ROOT))


def save(fig, name: str) -> Path:
    FIGURES.mkdir(exist_ok=True)
    path = FIGURES / name
    fig.savefig(path, dpi=120)
    print(f"wrote {path.relative_to(ROOT)}")
    return path


def measured_curves() -> tuple[str, dict] | None:
    """(path, curves) fitted to a committed real OSD trace, if any (last in name order)."""
    for path in sorted(glob.glob(str(ROOT / "traces" / "*.curves.json")), reverse=True):
        with open(path, encoding="utf-8") as f:
            curves = json.load(f)
        if curves.get("domains"):
            return path, curves
    return None


def with_measured_curves(scenario: dict) -> dict:
    """``scenario`` with its acceptance replaced by the measured learning curves (and the workload
    mixing their domains), when a committed trace has them; unchanged otherwise."""
    found = measured_curves()
    if found is None:
        return scenario
    path, curves = found
    print(f"learning curves from {Path(path).relative_to(ROOT)}: {curves['domains']}")
    workload = {**scenario.get("workload", {}), "domains": sorted(curves["domains"])}
    return {**scenario, "acceptance": {"model": "learning_curve", "curves": path}, "workload": workload}
