"""Figures of one simulation's tables (``SimResult.steps`` / ``.requests``): DataFrames in,
Figure out, nothing computed beyond rolling means and grouping."""

from __future__ import annotations

import pandas as pd

from osdsim.plots.style import need as _need
from osdsim.plots.style import new_figure


def step_timeline(steps: pd.DataFrame, replica: int = 0, window: int = 20,
                  span_s: tuple[float, float] | None = None,
                  title: str = "Serving iterations on one replica"):
    """Iteration time (moving average of ``window``) and batch size over simulated time.

    Columns: time_s, replica, busy_s, batch, updating, stall_s. Iterations run while a draft
    update was in flight are marked; stalls (update FLOPs that did not fit in spare compute)
    are drawn as ticks — they are why those iterations are long. ``span_s`` = (start, end)
    restricts the time shown; the batch line shows decode iterations only.
    """
    _need(steps, ["time_s", "replica", "busy_s", "batch", "updating", "stall_s"], "step_timeline")
    part = steps[steps["replica"] == replica].sort_values("time_s")
    if span_s is not None:
        part = part[(part["time_s"] >= span_s[0]) & (part["time_s"] < span_s[1])]
    fig, ax = new_figure(width=7.5, height=3.8)
    ax.plot(part["time_s"], 1e3 * part["busy_s"].rolling(window, min_periods=1).mean(),
            label=f"iteration time (mean of {window})", linewidth=1.2)
    upd = part[part["updating"]]
    ax.scatter(upd["time_s"], 1e3 * upd["busy_s"], s=3, color="C2", label="during a draft update")
    stalled = part[part["stall_s"] > 0]
    if len(stalled):
        ax.scatter(stalled["time_s"], 1e3 * stalled["busy_s"], s=12, marker="|", color="C1",
                   label="update did not fit: stall")
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("iteration time (ms)")
    twin = ax.twinx()
    decode = part[part["batch"] > 0]
    twin.plot(decode["time_s"], decode["batch"], color="#bbbbbb", linewidth=0.6)
    twin.set_ylabel("running batch (decode iterations)", color="#777777")
    ax.set_zorder(twin.get_zorder() + 1)  # the iteration times on top of the batch line
    ax.patch.set_visible(False)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(title)
    return fig


def latency_cdf(runs: dict[str, pd.DataFrame], metric: str = "latency_s",
                title: str = "Request latency distribution"):
    """Empirical CDF of ``metric`` over finished requests, one line per labelled run.

    Each value of ``runs`` is a requests table (columns ``finished`` and ``metric``).
    """
    if not runs:
        raise ValueError("latency_cdf needs at least one run")
    fig, ax = new_figure()
    for label, df in runs.items():
        _need(df, ["finished", metric], "latency_cdf")
        values = df.loc[df["finished"], metric].dropna().sort_values().to_numpy()
        if len(values):
            ax.step(values, [(i + 1) / len(values) for i in range(len(values))], where="post", label=label)
    ax.set_xscale("log")
    ax.set_xlabel(metric.replace("_s", " (s)").replace("_", " "))
    ax.set_ylabel("fraction of requests")
    ax.legend(fontsize=8)
    ax.set_title(title)
    return fig
