"""The public fidelity suite: predict every published row osdsim can read, and score it.

    .venv/bin/python benchmarks/published/fidelity.py [--figure figures/fidelity.png] [--csv out.csv]

Prints, by source, by draft kind (a separate draft model, a draft head, an n-gram lookup) and
overall, how many rows were predicted and the median and p90 absolute error of osdsim's
prediction beside the bare closed form τ/(nc + 1) (c = parameter ratio, n draft forwards per
step), then why the other rows were not predicted. Wherever a framework card's numbers were fitted to rows
of the suite, that source's rows are scored with the card's ``loso`` values (the same card with
those numbers derived without the source): leave-one-source-out, never on the rows fitted to.
No α is ever solved from the row it predicts (benchmarks/published/make_inputs.py).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from osdsim.validate.fidelity import load_suite, predict_loso  # noqa: E402


def _errors(values: list[float]) -> tuple[float, float]:
    a = np.abs(np.asarray(values, dtype=float))
    return (float(np.median(a)), float(np.percentile(a, 90))) if len(a) else (math.nan, math.nan)


def table(cases, by: str = "source") -> list[tuple]:
    """(group, framework, rows, osdsim median, p90, bare median, p90, mean signed) per ``by`` —
    ``source`` or ``draft_kind`` — and for all predicted rows."""
    done = [c for c in cases if math.isfinite(c.predicted)]

    def group(c) -> str:
        return c.source if by == "source" else c.row["draft_kind"]

    out = []
    for key in sorted({group(c) for c in done}) + ["all"]:
        sel = [c for c in done if key in ("all", group(c))]
        ours = [c.predicted / c.measured - 1 for c in sel]
        bare = [c.bare / c.measured - 1 for c in sel]
        fw = ",".join(sorted({c.inputs["framework_card"] for c in sel})) if key != "all" else ""
        out.append((key, fw, len(sel), *_errors(ours), *_errors(bare), float(np.mean(ours))))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--figure", help="write predicted vs measured here (PNG)")
    ap.add_argument("--csv", help="write every row's prediction here")
    args = ap.parse_args(argv)
    cases = predict_loso(load_suite(HERE))
    for by in ("source", "draft_kind"):
        print(f"{by:38s} {'framework':32s} {'rows':>4s}  {'osdsim med':>10s} {'p90':>6s}  "
              f"{'bare med':>8s} {'p90':>6s}  {'signed':>7s}")
        for key, fw, n, med, p90, bmed, bp90, signed in table(cases, by):
            print(f"{key:38s} {fw:32s} {n:4d}  {med:10.1%} {p90:6.1%}  {bmed:8.1%} {bp90:6.1%}  {signed:+7.1%}")
        print()
    skipped = Counter(c.skip.split(";")[0] for c in cases if c.skip)
    failed = [c for c in cases if not c.skip and not math.isfinite(c.predicted)]
    kinds = Counter(c.row["draft_kind"] for c in cases if not math.isfinite(c.predicted))
    print(f"{len(cases)} published rows; {sum(math.isfinite(c.predicted) for c in cases)} predicted, "
          f"{sum(skipped.values())} not predictable, {len(failed)} failed.")
    print(f"Not predicted, by draft kind: {', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))}.")
    print("Not predictable, by first reason (inputs.csv gives every reason):")
    for reason, n in skipped.most_common():
        print(f"  {n:4d}  {reason}")
    for c in failed:
        print(f"  {c.id}: {'; '.join(c.notes)}")
    if args.csv:
        _write_csv(cases, args.csv)
    if args.figure:
        _figure(cases, args.figure)
    return 0


def _write_csv(cases, path: str) -> None:
    import csv

    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "source", "draft_kind", "framework", "hardware", "drafter", "tree", "acceptance", "measured",
                    "predicted", "bare", "alpha", "notes"])
        for c in cases:
            if math.isfinite(c.predicted):
                i = c.inputs
                acceptance = f"{i['acceptance']} {i['rate']}".strip()
                w.writerow([c.id, c.source, c.row["draft_kind"], i["framework_card"], i["hardware_card"],
                            i.get("drafter", ""), i.get("tree", ""), acceptance, c.measured, round(c.predicted, 4),
                            round(c.bare, 4), round(c.alpha, 4), "; ".join(c.notes)])


def _figure(cases, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from osdsim.plots.fidelity import predicted_vs_measured

    fig = predicted_vs_measured([c for c in cases if math.isfinite(c.predicted)])
    fig.savefig(path, dpi=150, bbox_inches="tight")
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
