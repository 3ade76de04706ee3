"""Figures of real OSD runs: alpha over records (moving average 50) for the online, offline-distilled
and untouched drafts on one domain-shift stream, and for several update intervals I.

    python analysis/real_osd.py --runs online=traces/osd-small-cpu-shift.jsonl \
        offline=out/real/offline.jsonl untouched=out/real/untouched.jsonl \
        --intervals I=1=out/real/online-i1.jsonl I=8=traces/osd-small-cpu-shift.jsonl \
        I=32=out/real/online-i32.jsonl

Reads traces only (they come from ``osdsim run``); writes figures/alpha_over_records*.png.
"""

from __future__ import annotations

import argparse
import os

from _common import save  # noqa: F401  (also puts the repo on sys.path)


def load(items: list[str]) -> dict:
    from osdsim.trace import read_trace

    runs = {}
    for item in items:
        label, _, path = item.rpartition("=")
        if os.path.exists(path):
            records = read_trace(path).records
            if "mode" in records:
                records = records[records["mode"] != "baseline"]
            runs[label] = records.sort_values("record").reset_index(drop=True)
        else:
            print(f"skipped {label}: {path} not found")
    return align(runs)


def align(runs: dict) -> dict:
    from osdsim.trace.blocks import align_blocks

    return align_blocks(runs)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", nargs="*", default=[], help="label=trace for the main figure")
    p.add_argument("--intervals", nargs="*", default=[], help="label=trace, one per update interval")
    p.add_argument("--window", type=int, default=50)
    args = p.parse_args()

    from osdsim.plots.online import alpha_over_records

    runs = load(args.runs)
    if runs:
        save(alpha_over_records(runs, args.window, "Online vs offline-distilled vs untouched draft "
                                "(osdsim small models, CPU, greedy)"), "alpha_over_records.png")
    intervals = load(args.intervals)
    if intervals:
        save(alpha_over_records(intervals, args.window, "OSD at several update intervals I"),
             "alpha_over_records_intervals.png")


if __name__ == "__main__":
    main()
