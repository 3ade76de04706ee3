"""Figure of the published fidelity suite: predicted against measured speedup, one point per
published row, osdsim beside the bare closed form (DataFrames or cases in, a Figure out).
Colour is the source, the marker the draft kind (a draft model, a draft head, an n-gram lookup)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D

MARKERS = {"model": "o", "head": "^", "ngram": "s", "self": "D"}


def _kind(case) -> str:
    row = getattr(case, "row", None) or {}
    return row.get("draft_kind", "model")


def predicted_vs_measured(cases, title: str = "Published speculative-decoding speedups"):
    """``cases``: objects with ``measured``, ``predicted``, ``bare``, ``source`` and (optional)
    ``row["draft_kind"]`` (osdsim.validate.fidelity)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.4), sharex=True, sharey=True)
    sources = sorted({c.source for c in cases})
    kinds = [k for k in MARKERS if any(_kind(c) == k for c in cases)]
    palette = [plt.cm.tab10(i) for i in (0, 1, 2, 3, 4, 5, 6, 8, 9)]  # tab10 without its grey (the kinds' legend)
    colours = {src: palette[k % len(palette)] for k, src in enumerate(sources)}
    top = max([c.measured for c in cases] + [c.predicted for c in cases] + [c.bare for c in cases] + [1.0]) * 1.08
    for ax, attr, name in ((axes[0], "predicted", "osdsim (cards + framework)"),
                           (axes[1], "bare", "bare closed form τ/(nc+1), c = parameter ratio")):
        for src in sources:
            for kind in kinds:
                sel = [c for c in cases if c.source == src and _kind(c) == kind]
                if sel:
                    ax.scatter([c.measured for c in sel], [getattr(c, attr) for c in sel], s=24,
                               color=colours[src], marker=MARKERS[kind], alpha=0.85)
        err = np.abs([getattr(c, attr) / c.measured - 1 for c in cases])
        per_kind = []
        for kind in kinds:
            e = np.abs([getattr(c, attr) / c.measured - 1 for c in cases if _kind(c) == kind])
            per_kind.append(f"{kind} {np.median(e):.0%}")
        ax.plot([0, top], [0, top], color="grey", lw=1)
        for f in (0.9, 1.1):
            ax.plot([0, top], [0, top * f], color="grey", lw=0.6, ls=":")
        ax.set_title(f"{name}\nmedian |error| {np.median(err):.1%}, p90 {np.percentile(err, 90):.1%}\n"
                     f"median by kind: {', '.join(per_kind)}", fontsize=9)
        ax.set_xlabel("measured speedup (published)")
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("predicted speedup")
    handles = [Line2D([], [], ls="", marker="o", color=colours[s],
                      label=f"{s} ({sum(c.source == s for c in cases)})") for s in sources]
    handles += [Line2D([], [], ls="", marker=MARKERS[k], color="black",
                       label=f"{k} ({sum(_kind(c) == k for c in cases)})") for k in kinds]
    axes[0].legend(handles=handles, fontsize=7, loc="upper left")
    fig.suptitle(f"{title}: {len(cases)} rows, dotted lines ±10%", fontsize=11)
    fig.tight_layout()
    return fig
