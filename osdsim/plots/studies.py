"""What-if figures for design reviews: latency vs load, replicas vs load, draft size, update interval.

Each function takes a tidy DataFrame (columns named in its docstring), returns a Figure, and
computes nothing beyond grouping.
"""

from __future__ import annotations

import pandas as pd

from osdsim.plots.style import caption_if_all_below_one, new_figure, series_style, titled
from osdsim.plots.style import need as _need


def _series(df: pd.DataFrame):
    """(name, part) per value of an optional ``series`` column; one unnamed group without it."""
    return df.groupby("series", sort=False) if "series" in df.columns else [("", df)]


def latency_vs_rate(df: pd.DataFrame, metric: str = "latency", title: str | None = None):
    """p50 (solid) and p99 (dashed) of ``metric`` vs arrival rate, one colour per ``mode``.

    Columns: rate, mode, {metric}_p50_s, {metric}_p99_s. Where the speculative curve crosses the
    plain one is where speculation stops paying.
    """
    p50, p99 = f"{metric}_p50_s", f"{metric}_p99_s"
    _need(df, ["rate", "mode", p50, p99], "latency_vs_rate")
    fig, ax = new_figure()
    for i, (mode, part) in enumerate(df.groupby("mode", sort=False)):
        part = part.sort_values("rate")
        colour = f"C{i}"
        ax.plot(part["rate"], part[p50], color=colour, marker="o", markersize=3, label=f"{mode} p50")
        ax.plot(part["rate"], part[p99], color=colour, linestyle="--", label=f"{mode} p99")
    ax.set_xlabel("arrival rate (requests/s)")
    ax.set_ylabel(f"{metric.upper() if metric != 'latency' else 'end-to-end latency'} (s)")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.set_title(titled(f"{metric} percentiles vs load", df, title))
    return fig


def speedup_vs_rate(df: pd.DataFrame, title: str | None = None):
    """Columns: rate, speedup, optional series (one line each, each with its own marker and line
    style so coinciding lines stay visible). A caption says so when every speedup is below 1×."""
    _need(df, ["rate", "speedup"], "speedup_vs_rate")
    fig, ax = new_figure()
    for i, (name, part) in enumerate(_series(df)):
        part = part.sort_values("rate")
        ax.plot(part["rate"], part["speedup"], label=str(name) or None, **series_style(i))
    ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
    ax.set_xlabel("arrival rate (requests/s)")
    ax.set_ylabel("mean-latency speedup over plain decoding (×)")
    if "series" in df.columns:
        ax.legend(fontsize=8)
    ax.set_title(titled("Speedup over plain decoding vs load", df, title), fontsize=10)
    caption_if_all_below_one(fig, df["speedup"])
    return fig


def replicas_vs_load(df: pd.DataFrame, title: str | None = None):
    """Columns: rate, mode, gpus (NaN where not met), optional method. Grouped bars: one group per
    rate, a bar per mode (per method, with its mode where a method was planned in several). A plan
    table has a row per candidate: the fewest GPUs of each (rate, mode or method) is drawn."""
    _need(df, ["rate", "mode", "gpus"], "replicas_vs_load")
    df = df.assign(gpus=pd.to_numeric(df["gpus"], errors="coerce"))
    if "method" in df.columns and df["method"].notna().any():
        method = df["method"].astype(object).where(df["method"].notna(), df["mode"])
        modes_per = df.assign(method=method).groupby("method")["mode"].nunique()
        df = df.assign(mode=[m if modes_per[m] == 1 else f"{m} ({mode})" for m, mode in zip(method, df["mode"])])
    best = df.groupby(["rate", "mode"], sort=False)["gpus"].min().reset_index()
    fig, ax = new_figure()
    rates = sorted(best["rate"].unique())
    modes = list(dict.fromkeys(best["mode"]))
    width = 0.8 / max(1, len(modes))
    for i, mode in enumerate(modes):
        part = best[best["mode"] == mode].set_index("rate")["gpus"]
        heights = [float(part.get(r, float("nan"))) for r in rates]
        xs = [j + (i - (len(modes) - 1) / 2) * width for j in range(len(rates))]
        bars = ax.bar(xs, [0 if h != h else h for h in heights], width, label=str(mode))
        for bar, h in zip(bars, heights):
            ax.annotate("not met" if h != h else f"{h:g}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(rates)), [f"{r:g}" for r in rates])
    ax.set_xlabel("arrival rate (requests/s)")
    ax.set_ylabel("GPUs")
    ax.legend(fontsize=8)
    ax.set_title(titled("GPUs needed to meet the SLO", df, title), fontsize=10)
    return fig


def speedup_vs_draft_size(df: pd.DataFrame, title: str | None = None):
    """Columns: draft_params, speedup; optional alpha and c (annotated: α the acceptance rate, c the
    draft's forward time over the target's), series (one line each)."""
    _need(df, ["draft_params", "speedup"], "speedup_vs_draft_size")
    fig, ax = new_figure()
    for name, part in _series(df):
        part = part.sort_values("draft_params")
        ax.plot(part["draft_params"], part["speedup"], marker="o", label=str(name) or None)
        if {"alpha", "c"} <= set(part.columns):
            for _, r in part.iterrows():
                ax.annotate(f"α={r['alpha']:.2f}\nc={r['c']:.2f}", (r["draft_params"], r["speedup"]),
                            textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xscale("log")
    ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
    ax.set_xlabel("draft parameters")
    ax.set_ylabel("speedup over plain decoding (×)")
    if "series" in df.columns:
        ax.legend(fontsize=8)
    ax.set_title(titled("Speedup vs draft size", df, title), fontsize=10)
    if {"alpha", "c"} <= set(df.columns):
        fig.text(0.01, 0.01, "α: acceptance rate; c: draft forward time / target forward time", fontsize=7)
    caption_if_all_below_one(fig, df["speedup"])
    return fig


def vs_update_interval(df: pd.DataFrame, title: str | None = None):
    """Columns: update_interval, speedup, latency_p50_s; two panels, log-scaled I."""
    _need(df, ["update_interval", "speedup", "latency_p50_s"], "vs_update_interval")
    fig, axes = new_figure(ncols=2, width=4.4)
    ax1, ax2 = axes.flat
    part = df.sort_values("update_interval")
    for name, g in _series(part):
        ax1.plot(g["update_interval"], g["speedup"], marker="o", label=str(name) or None)
        ax2.plot(g["update_interval"], g["latency_p50_s"], marker="o", label=str(name) or None)
    for ax in (ax1, ax2):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("update interval I (records served between draft updates)")
    ax1.set_ylabel("speedup over plain (×)")
    ax2.set_ylabel("median latency (s)")
    if "series" in part.columns:
        ax1.legend(fontsize=8)
    fig.suptitle(titled("Online draft updates every I records", df, title), fontsize=10)
    caption_if_all_below_one(fig, df["speedup"])
    return fig
