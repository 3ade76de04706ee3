"""What-if figures for design reviews: latency vs load, replicas vs load, draft size, update interval.

Each function takes a tidy DataFrame (columns named in its docstring), returns a Figure, and
computes nothing beyond grouping.
"""

from __future__ import annotations

import pandas as pd

from osdsim.plots.style import need as _need
from osdsim.plots.style import new_figure


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
    ax.set_title(title or f"{metric} percentiles vs load")
    return fig


def speedup_vs_rate(df: pd.DataFrame, title: str = "Speedup over plain decoding vs load"):
    """Columns: rate, speedup, optional series (one line each)."""
    _need(df, ["rate", "speedup"], "speedup_vs_rate")
    fig, ax = new_figure()
    for name, part in _series(df):
        part = part.sort_values("rate")
        ax.plot(part["rate"], part["speedup"], marker="o", markersize=3, label=str(name) or None)
    ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
    ax.set_xlabel("arrival rate (requests/s)")
    ax.set_ylabel("mean-latency speedup (×)")
    if "series" in df.columns:
        ax.legend(fontsize=8)
    ax.set_title(title)
    return fig


def replicas_vs_load(df: pd.DataFrame, title: str = "GPUs needed to meet the SLO"):
    """Columns: rate, mode, gpus (NaN where not met). Grouped bars: one group per rate, a bar per mode."""
    _need(df, ["rate", "mode", "gpus"], "replicas_vs_load")
    fig, ax = new_figure()
    rates = sorted(df["rate"].unique())
    modes = list(dict.fromkeys(df["mode"]))
    width = 0.8 / max(1, len(modes))
    for i, mode in enumerate(modes):
        part = df[df["mode"] == mode].set_index("rate")["gpus"]
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
    ax.set_title(title)
    return fig


def speedup_vs_draft_size(df: pd.DataFrame, title: str = "Speedup vs draft size"):
    """Columns: draft_params, speedup; optional alpha and c (annotated), series (one line each)."""
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
    ax.set_ylabel("speedup (×)")
    if "series" in df.columns:
        ax.legend(fontsize=8)
    ax.set_title(title)
    return fig


def vs_update_interval(df: pd.DataFrame, title: str = "Online draft updates: interval I"):
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
        ax.set_xlabel("update interval I (records)")
    ax1.set_ylabel("speedup over plain (×)")
    ax2.set_ylabel("median latency (s)")
    if "series" in part.columns:
        ax1.legend(fontsize=8)
    fig.suptitle(title)
    return fig
