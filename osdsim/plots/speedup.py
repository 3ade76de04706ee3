"""Speedup-versus-α figures, like the OSD paper's analysis (Liu et al. 2024, Figure 2)."""

from __future__ import annotations

import pandas as pd

from osdsim.plots.style import LINESTYLES, new_figure, wrap


def speedup_vs_alpha(df: pd.DataFrame, title: str = "Speculative decoding: speedup vs acceptance rate"):
    """One panel per c, one line per γ. ``df`` has columns alpha, gamma, c, speedup."""
    for col in ("alpha", "gamma", "c", "speedup"):
        if col not in df.columns:
            raise ValueError(f"speedup_vs_alpha needs a column {col!r}")
    cs = sorted(df["c"].unique())
    fig, axes = new_figure(ncols=len(cs), width=4.2, height=3.6)
    axes = [axes] if len(cs) == 1 else list(axes.flat)
    for ax, c in zip(axes, cs):
        part = df[df["c"] == c]
        for i, (gamma, line) in enumerate(part.groupby("gamma")):
            line = line.sort_values("alpha")
            ax.plot(line["alpha"], line["speedup"], label=f"γ = {gamma}", linestyle=LINESTYLES[i % len(LINESTYLES)])
        ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
        ax.set_title(f"c = {c:g} (draft / target forward time)", fontsize=9)
        ax.set_xlabel("acceptance rate α")
        ax.set_xlim(0, 1)
    axes[0].set_ylabel("walltime improvement (×)")
    axes[-1].legend(loc="upper left", fontsize=8)
    fig.suptitle(wrap(title), fontsize=10)
    return fig
