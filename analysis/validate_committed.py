"""Held-out validation of the committed real CPU traces: the README's validation table.

For each trace: ``osdsim calibrate --trace T --records even --statistic S`` writes a card from the
even records, and ``osdsim validate T --card CARD --records odd`` compares its predictions with
the odd records, for the mean (least squares: sums, throughput) and the median (least absolute
deviations: the machine's usual speed) statistic. A card calibrated on one run is also applied
to the other run: on the shared 2-core VM the same forward's time moved by up to 50% between
runs minutes apart, and those rows show it, then the same card times one factor (``--scale
auto``: the median measured/predicted step ratio of the even records). Writes ``figures/validate_cpu_<name>.png``
(mean statistic, odd records) and prints a Markdown table.

    .venv/bin/python analysis/validate_committed.py [--out out/validate]

Needs the architectures of osdsim's small models, read from their cache (``make demo`` or
``osdsim train`` builds it).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from _common import FIGURES, ROOT

TRACES = {"osd_baseline": "traces/osd-small-cpu-baseline.jsonl",
          "osd_shift": "traces/osd-small-cpu-shift.jsonl"}


def osdsim(*argv: str) -> dict:
    """Run an osdsim command with --json; its payload, or exit with its message."""
    cmd = [sys.executable, "-c", "import sys; from osdsim.cli.main import main; sys.exit(main())", *argv, "--json"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"osdsim {' '.join(argv)}: {done.stderr.strip()}")
    return json.loads(done.stdout)


def pct(block: dict | None, key: str = "median_ape_pct") -> str:
    return "n/a" if not block or block.get(key) is None else f"{block[key]:.1f}%"


def cells(v: dict) -> list[str]:
    """Per-record latency and tok/s (median APE), throughput and speedup errors, noise floors."""
    rep = v["replayed"]
    speedup = rep.get("speedup")
    sp = "—" if not speedup else (f"{speedup['measured']:.3f}× → {speedup['predicted']:.3f}× "
                                  f"({speedup['error_pct']:+.1f}%)")
    floor = (v.get("baseline") or {}).get("noise_floor")
    return [pct(rep["latency"]), pct(rep["tok_s"]), f"{rep['throughput']['error_pct']:+.1f}%", sp,
            pct(v.get("updates")) if (v.get("updates") or {}).get("points") else "—",
            pct(v["steps"]["noise_floor"]), pct(floor) if floor and floor.get("points") else "—"]


def joined(folds: list[list[str]]) -> list[str]:
    return [" / ".join(parts) for parts in zip(*folds)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out/validate", help="folder for the calibrated cards")
    args = ap.parse_args()
    out = ROOT / args.out
    out.mkdir(parents=True, exist_ok=True)
    lines = ["| trace | card from | statistic | per-record latency | per-record tok/s | throughput | "
             "speedup measured → predicted | draft update time | step noise floor | record noise floor |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    cards = {}
    for name, trace in TRACES.items():
        for statistic in ("mean", "median"):
            folds = []
            for fit_on, check in (("even", "odd"), ("odd", "even")):
                card = out / f"cpu-{name}-{fit_on}-{statistic}.yaml"
                osdsim("calibrate", "--trace", trace, "--records", fit_on, "--statistic", statistic,
                       "--out", str(card))
                cards[name, fit_on, statistic] = card
                figure = (["--figure", str(FIGURES / f"validate_cpu_{name}.png")]
                          if (statistic, fit_on) == ("mean", "even") else [])
                folds.append(cells(osdsim("validate", trace, "--card", str(card), "--records", check, *figure)))
            lines.append(f"| `{Path(trace).name}` | its even / odd records | {statistic} | "
                         + " | ".join(joined(folds)) + " |")
    names = list(TRACES)
    for here, there in ((names[0], names[1]), (names[1], names[0])):
        card = str(cards[there, "even", "mean"])
        v = osdsim("validate", TRACES[here], "--card", card, "--records", "odd")
        lines.append(f"| `{Path(TRACES[here]).name}` (odd) | `{Path(TRACES[there]).name}` (another run) | mean | "
                     + " | ".join(cells(v)) + " |")
        v = osdsim("validate", TRACES[here], "--card", card, "--records", "odd", "--scale", "auto")
        lines.append(f"| same | same × {v['scale']:.2f} (`--scale auto`: its even records' step ratio) | mean | "
                     + " | ".join(cells(v)) + " |")
    print("\n".join(lines))
    print("\n(two values: fitted on the even records and checked on the odd ones / the other way round)")
    print(f"figures: {', '.join(f'figures/validate_cpu_{n}.png' for n in TRACES)}")


if __name__ == "__main__":
    main()
