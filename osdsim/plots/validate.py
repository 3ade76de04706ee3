"""Predicted vs measured figure of a validation (DataFrames in, Figure out, no computation)."""

from __future__ import annotations

import pandas as pd


def validation_figure(records: pd.DataFrame, steps: pd.DataFrame | None = None,
                      model_records: pd.DataFrame | None = None, title: str = "",
                      speed: pd.DataFrame | None = None):
    """Scatter of predicted against measured latency with y = x and a ±5% band.

    ``records`` needs ``latency_s``, ``predicted_latency_s`` and ``mode`` (speculative/baseline);
    ``steps`` (optional) ``measured_s`` and ``predicted_s``; ``model_records`` (optional) the
    acceptance-model predictions of the speculative records; ``speed`` (optional,
    ``validate.core.speed_pairs``) each record's measured/predicted for its baseline and its
    speculative decoding. One panel per table given.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    panels = [("records", records)]
    if steps is not None and len(steps):
        panels.insert(0, ("steps", steps))
    if model_records is not None and len(model_records):
        panels.append(("acceptance model", model_records))
    if speed is not None and len(speed) >= 3:
        panels.append(("machine speed", speed))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.4), squeeze=False)
    for ax, (name, df) in zip(axes[0], panels):
        if name == "machine speed":
            _speed_panel(ax, df)
            continue
        if name == "steps":
            x, y = df["measured_s"] * 1e3, df["predicted_s"] * 1e3
            ax.scatter(x, y, s=6, alpha=0.35, color="tab:gray", label="step")
            unit = "ms"
        else:
            unit = "s"
            modes = df["mode"] if "mode" in df else pd.Series("speculative", index=df.index)
            for mode, color in (("speculative", "tab:blue"), ("baseline", "tab:orange")):
                sel = df[modes == mode]
                if len(sel):
                    ax.scatter(sel["latency_s"], sel["predicted_latency_s"], s=12, alpha=0.7,
                               color=color, label=mode)
            x, y = df["latency_s"], df["predicted_latency_s"]
        lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
        grid = [lo, hi]
        ax.plot(grid, grid, color="black", lw=1, label="y = x")
        ax.fill_between(grid, [v * 0.95 for v in grid], [v * 1.05 for v in grid], color="black",
                        alpha=0.08, label="±5%")
        ax.set_xlabel(f"measured latency ({unit})")
        ax.set_ylabel(f"predicted latency ({unit})")
        ax.set_title(name)
        ax.legend(fontsize=8, loc="upper left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _speed_panel(ax, df: pd.DataFrame) -> None:
    x, y = df["baseline_ratio"], df["speculative_ratio"]
    ax.scatter(x, y, s=12, alpha=0.7, color="tab:purple", label="record")
    lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
    ax.plot([lo, hi], [lo, hi], color="black", lw=1, label="y = x")
    ax.set_xlabel("baseline: measured / predicted")
    ax.set_ylabel("speculative: measured / predicted")
    ax.set_title("machine speed (record and its baseline)")
    ax.legend(fontsize=8, loc="upper left")
