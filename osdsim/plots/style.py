"""One consistent look for every osdsim figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only, no screen (CI and servers have none)

import matplotlib.pyplot as plt  # noqa: E402

PALETTE = ["#1b6ca8", "#d1495b", "#edae49", "#00798c", "#66a182", "#8d6a9f", "#2e4057", "#b5651d"]


def need(df, cols, fn: str) -> None:
    """Raise ValueError naming the columns of ``df`` that plot function ``fn`` needs and lacks."""
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"{fn} needs column(s) {', '.join(missing)}")


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 5.2, height: float = 3.6):
    """A Figure with osdsim's style and its axes (a single Axes when 1×1)."""
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False,
                             constrained_layout=True)
    for ax in axes.flat:
        ax.grid(True, color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.set_prop_cycle(color=PALETTE)
    return fig, (axes[0, 0] if nrows == ncols == 1 else axes)


def save(fig, path, dpi: int = 120) -> None:
    """Write ``fig`` (PNG or SVG by the suffix) and release it: pyplot keeps figures until closed."""
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
