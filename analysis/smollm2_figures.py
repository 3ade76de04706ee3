"""Figures and tables of the SmolLM2 OSD experiments (``analysis/smollm2_osd.sh`` makes the traces).

    .venv/bin/python analysis/smollm2_figures.py

- figures/smollm2_alpha_over_records.png: α over records for the online, offline-distilled and
  frozen drafts on sql-q → math-q → humaneval (moving average of 25; the static runs served 50
  records per block and are drawn at each block's start);
- figures/smollm2_alpha_long.png: the same three kinds of draft, replies ending at the target's
  end-of-turn token, on 200-record blocks (HumanEval: its 164 problems), the online one with the
  paper's settings (lr 1e-4, update every 8 records); the runs above ran every record to 64 tokens;
- figures/smollm2_languages.png: α over the first and the second half of each language's own online
  run (one draft per language, each starting from the same generic draft);
- figures/smollm2_speedup_over_records.png: measured speedup over plain decoding (trailing 50
  records) of the SQL runs at γ 2 with baselines: the generic draft adapting online, the
  offline-distilled draft adapting online (400 records), and that draft kept frozen;
- the per-block table of each run (α first/last 50, speedup where the trace has baselines),
  printed and written to figures/smollm2_blocks.csv.
"""

from __future__ import annotations

import functools
import os

import pandas as pd
from _common import ROOT, save

from osdsim.plots.online import alpha_gain_bars, alpha_over_records, speedup_over_records
from osdsim.trace import read_trace, speculative_records
from osdsim.trace.blocks import align_blocks, block_table

RUNS = {"online (OSD)": "smollm2-osd-cpu.jsonl", "offline-distilled": "smollm2-offline-cpu.jsonl",
        "frozen": "smollm2-frozen-cpu.jsonl"}
LONG = {"online (OSD, lr 1e-4, I = 8)": "smollm2-osd-long-cpu.jsonl",
        "offline-distilled": "smollm2-offline-eos-cpu.jsonl", "frozen": "smollm2-frozen-eos-cpu.jsonl"}
# Single-block runs with the same settings: arithmetic over 400 records; SQL at γ 2 with baselines.
SINGLE = {"online (OSD, lr 1e-4, I = 8), 400 records": "smollm2-osd-math400-cpu.jsonl",
          "online (OSD, lr 1e-4, I = 8), γ 2, baselines": "smollm2-osd-sql-g2-cpu.jsonl",
          "the same, 1-layer draft": "smollm2-osd-sql-g2-l1-cpu.jsonl",
          "the same, 4-layer draft": "smollm2-osd-sql-g2-l4-cpu.jsonl",
          "offline-distilled draft, then online, γ 2, baselines": "smollm2-osd-sql400-offline-g2-cpu.jsonl",
          "offline-distilled draft, frozen, γ 2, baselines": "smollm2-offline-frozen-g2-cpu.jsonl"}
# The SQL runs at γ 2 with baselines, for the speedup over records.
SPEEDUP = {"generic draft, online (OSD)": "smollm2-osd-sql-g2-cpu.jsonl",
           "offline-distilled draft, online (OSD)": "smollm2-osd-sql400-offline-g2-cpu.jsonl",
           "offline-distilled draft, frozen": "smollm2-offline-frozen-g2-cpu.jsonl"}
LANGUAGES = ("zh", "ko", "es", "pt", "fr", "de")


def main() -> None:
    traces = ROOT / "traces"

    @functools.cache
    def load(name: str) -> pd.DataFrame:  # the SQL runs appear in the block table and the speedup figure
        return read_trace(str(traces / name)).records

    runs = {label: load(name) for label, name in RUNS.items()
            if os.path.exists(traces / name)}
    tables = []
    if runs:
        save(alpha_over_records(align_blocks(runs), 25, "SmolLM2-135M-Instruct + 2-layer distilled draft "
                                "(CPU, greedy, γ = 3): α over records"), "smollm2_alpha_over_records.png")
        tables += [block_table(r, 50).assign(run=label, blocks="100, 64 tokens each") for label, r in runs.items()]
    long = {label: load(name) for label, name in LONG.items()
            if os.path.exists(traces / name)}
    if len(long) == len(LONG):
        save(alpha_over_records(align_blocks(long), 25, "SmolLM2-135M-Instruct + 2-layer draft, 200-record blocks "
                                "(CPU, greedy, γ = 3): α over records"), "smollm2_alpha_long.png")
        tables += [block_table(r, 50).assign(run=label, blocks="200, end at EOS") for label, r in long.items()]
        online = speculative_records(next(iter(long.values())))
        lengths = online.groupby("domain", sort=False)["num_tokens"]
        print("reply tokens of the online run:", ", ".join(
            f"{d} mean {n.mean():.0f}, {100 * (n < 64).mean():.0f}% ended before 64" for d, n in lengths))
    tables += [block_table(load(name), 50).assign(run=label, blocks="one, end at EOS")
               for label, name in SINGLE.items() if os.path.exists(traces / name)]
    if tables:
        blocks = pd.concat(tables, ignore_index=True)
        blocks.to_csv(ROOT / "figures" / "smollm2_blocks.csv", index=False)
        print(blocks.round(3).to_string(index=False))
    speed = {label: load(name) for label, name in SPEEDUP.items()
             if os.path.exists(traces / name)}
    if speed:
        save(speedup_over_records(speed, 50, "SmolLM2-135M-Instruct + 2-layer draft on text-to-SQL questions "
                                  "(CPU, 2 threads, greedy, γ = 2): speedup over plain decoding"),
             "smollm2_speedup_over_records.png")
    rows = []
    for lang in LANGUAGES:
        path = traces / f"smollm2-lang-{lang}-cpu.jsonl"
        if path.exists():
            records = read_trace(str(path)).records
            t = block_table(records, max(1, len(speculative_records(records)) // 2))  # first half vs second
            rows.append(t.assign(language=lang))
    if rows:
        langs = pd.concat(rows, ignore_index=True)
        save(alpha_gain_bars(langs, "language", "One draft per ShareGPT language, adapted online: α over the "
                             "first vs second half of its records"), "smollm2_languages.png")
        print(langs[["language", "records", "alpha_first", "alpha_last", "alpha_gain"]].round(3).to_string(index=False))


if __name__ == "__main__":
    main()
