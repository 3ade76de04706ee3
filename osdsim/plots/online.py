"""α over records of a real run, as the OSD paper shows it (Liu et al. 2024, Figures 3-5):
a moving average of per-record acceptance, with the stream's domain blocks marked."""

from __future__ import annotations

import pandas as pd

from osdsim.plots.style import new_figure, wrap


def _speculative(df: pd.DataFrame) -> pd.DataFrame:
    for col in ("record", "domain", "alpha"):
        if col not in df.columns:
            raise ValueError(f"alpha_over_records needs a column {col!r}")
    if "mode" in df.columns:
        df = df[df["mode"].fillna("speculative") != "baseline"]
    return df.sort_values("record")


def alpha_over_records(runs: pd.DataFrame | dict[str, pd.DataFrame], window: int = 50,
                       title: str = "Acceptance rate α over records (moving average)"):
    """One line per run: the moving average (``window`` records) of per-record α.

    ``runs`` is a trace's records DataFrame (``record``, ``domain``, ``alpha``) or a dict of
    label -> such a DataFrame (e.g. online, offline-distilled and untouched drafts on one stream).
    Domain blocks of the longest run are shaded and labelled.
    """
    if isinstance(runs, pd.DataFrame):
        runs = {"draft": runs}
    if not runs:
        raise ValueError("alpha_over_records needs at least one run")
    fig, ax = new_figure(width=7.5, height=3.8)
    first = None
    for label, df in runs.items():
        df = _speculative(df)
        first = df if first is None or len(df) > len(first) else first
        smooth = df["alpha"].rolling(window, min_periods=1).mean()
        # a run with gaps in its record axis (fewer records per block) is drawn in pieces
        gap = df["record"].diff().fillna(1).gt(1).to_numpy()
        x = df["record"].astype(float).to_numpy()
        y = smooth.to_numpy(dtype=float)
        if gap.any():
            import numpy as np

            at = np.flatnonzero(gap)
            x, y = np.insert(x, at, np.nan), np.insert(y, at, np.nan)
        ax.plot(x, y, label=label, linewidth=1.4)
    change = first["domain"].ne(first["domain"].shift())
    starts = list(first.loc[change, "record"]) + [int(first["record"].max()) + 1]
    names = list(first.loc[change, "domain"])
    for i, (lo, hi, name) in enumerate(zip(starts, starts[1:], names)):
        if i % 2:
            ax.axvspan(lo, hi, color="#f2f2f2", zorder=0)
        ax.text((lo + hi) / 2, 1.02, name, ha="center", va="bottom", fontsize=9)
    ax.set_ylim(0, 1.08)
    ax.set_xlabel("record")
    ax.set_ylabel(f"α (moving average of {window})")
    ax.legend(loc="lower right", fontsize=8)
    fig.suptitle(title)
    return fig


def alpha_gain_bars(table: pd.DataFrame, label: str = "domain",
                    title: str = "α at the start and the end of each block"):
    """Paired bars per row of a block table (``osdsim.trace.blocks.block_table``: ``alpha_first``,
    ``alpha_last``), labelled by ``label`` (a domain, a language), the gain written above."""
    from osdsim.plots.style import need

    need(table, [label, "alpha_first", "alpha_last"], "alpha_gain_bars")
    if table.empty:
        raise ValueError("alpha_gain_bars needs at least one row")
    fig, ax = new_figure(width=max(5.0, 0.8 * len(table) + 2), height=3.6)
    x = range(len(table))
    ax.bar([i - 0.2 for i in x], table["alpha_first"], 0.4, label="first records")
    ax.bar([i + 0.2 for i in x], table["alpha_last"], 0.4, label="last records")
    for i, (a, b) in enumerate(zip(table["alpha_first"], table["alpha_last"])):
        ax.text(i, max(a, b) + 0.02, f"{b - a:+.2f}", ha="center", fontsize=8)
    ax.set_xticks(list(x), [str(v) for v in table[label]])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("mean α")
    ax.legend(loc="upper right", fontsize=8)
    fig.suptitle(title)
    return fig


def speedup_over_records(runs: dict[str, pd.DataFrame], window: int = 50,
                         title: str = "Measured speedup over plain decoding, over records"):
    """One line per run with plain-decoding baselines: the speedup over a trailing ``window`` of
    records (``osdsim.trace.blocks.rolling_speedup``: plain time over speculative time of the
    same prompts), with the break-even line at 1.0 and each line's last value written at its end."""
    from osdsim.trace.blocks import rolling_speedup

    if not runs:
        raise ValueError("speedup_over_records needs at least one run")
    fig, ax = new_figure(width=7.5, height=3.8)
    top = 1.0
    for label, df in runs.items():
        r = rolling_speedup(df, window)
        line, = ax.plot(r["record"], r["speedup"], label=label, linewidth=1.4)
        last = r.iloc[-1]
        ax.annotate(f"{last['speedup']:.2f}×", (last["record"], last["speedup"]), xytext=(3, 0),
                    textcoords="offset points", fontsize=8, color=line.get_color(), va="center")
        top = max(top, float(r["speedup"].max()))
    ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
    ax.set_ylim(0, top * 1.15)
    ax.set_xlabel("record")
    ax.set_ylabel(f"speedup (trailing {window} records)")
    ax.legend(loc="lower right", fontsize=8)
    fig.suptitle(wrap(title), fontsize=10)
    return fig
