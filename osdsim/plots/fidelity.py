"""Figure of the published fidelity suite: predicted against measured speedup, one point per
published row, osdsim beside the bare closed form (DataFrames or cases in, a Figure out)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def predicted_vs_measured(cases, title: str = "Published speculative-decoding speedups"):
    """``cases``: objects with ``measured``, ``predicted``, ``bare`` and ``source`` (osdsim.validate.fidelity)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 5), sharex=True, sharey=True)
    sources = sorted({c.source for c in cases})
    colours = plt.cm.tab10(np.linspace(0, 1, max(len(sources), 1)))
    top = max([c.measured for c in cases] + [c.predicted for c in cases] + [c.bare for c in cases] + [1.0]) * 1.08
    for ax, attr, name in ((axes[0], "predicted", "osdsim (cards + framework)"),
                           (axes[1], "bare", "bare closed form τ/(γc+1), c = parameter ratio")):
        for colour, src in zip(colours, sources):
            sel = [c for c in cases if c.source == src]
            ax.scatter([c.measured for c in sel], [getattr(c, attr) for c in sel], s=22, color=colour,
                       label=f"{src} ({len(sel)})")
        err = np.abs([getattr(c, attr) / c.measured - 1 for c in cases])
        ax.plot([0, top], [0, top], color="grey", lw=1)
        for f in (0.9, 1.1):
            ax.plot([0, top], [0, top * f], color="grey", lw=0.6, ls=":")
        ax.set_title(f"{name}\nmedian |error| {np.median(err):.1%}, p90 {np.percentile(err, 90):.1%}", fontsize=10)
        ax.set_xlabel("measured speedup (published)")
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("predicted speedup")
    axes[0].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"{title}: {len(cases)} rows, dotted lines ±10%", fontsize=11)
    fig.tight_layout()
    return fig
