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
    """Write ``fig`` (PNG or SVG by the suffix) and release it: pyplot keeps figures until closed.
    The image is written beside ``path`` and renamed into place (``osdsim.safe.atomic``): a killed
    run leaves the old figure or the new one, never half of one."""
    from osdsim.safe.atomic import atomic_file

    try:
        with atomic_file(path, "figure") as tmp:
            fig.savefig(tmp, dpi=dpi)
    finally:
        plt.close(fig)


TITLE_WIDTH = 62  # characters per title line at the default figure width; longer titles wrap


def wrap(text: str, width: int = TITLE_WIDTH) -> str:
    """``text`` broken into lines of at most ``width`` characters (a title never runs off the figure)."""
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) if text else text


def context(df) -> str:
    """"target + draft on hardware (framework), acceptance" from a table's ``assumptions.*`` columns
    (sweep and plan tables carry them); "" when it has none. Titles append it so a figure names
    the model pair, the GPU and α it was computed for."""
    cols = getattr(df, "columns", ())
    if not len(df) or "assumptions.target" not in cols:
        return ""

    def first(key):
        col = f"assumptions.{key}"
        if col not in cols:
            return None
        values = [v for v in df[col] if isinstance(v, str) and v and v != "None" and not v.startswith("none (")]
        return values[0] if values else None

    target, draft, hw, fw, acc = (first(k) for k in ("target", "draft", "hardware", "framework", "acceptance"))
    pair = target + (f" + {draft}" if draft else "")
    out = pair + (f" on {hw}" if hw else "") + (f" ({fw})" if fw else "")
    if acc and acc != "none (plain decoding)":
        out += f", {acc.replace('alpha', 'α')}"
    return out


def titled(default: str, df, title: str | None) -> str:
    """The title to draw: ``title`` if given, else ``default`` with the table's :func:`context`."""
    if title:
        return wrap(title)
    extra = context(df)
    return wrap(f"{default}: {extra}" if extra else default)


def caption_if_all_below_one(fig, values, what: str = "speedup") -> None:
    """A caption under the figure when every plotted ``what`` is below 1×, saying what that means."""
    import numpy as np

    vals = np.asarray([v for v in values if v == v], dtype=float)
    if len(vals) and (vals < 1.0).all():
        fig.text(0.5, -0.02, wrap(f"Every {what} here is below 1×: speculation is slower than plain decoding at "
                                  "these settings (the draft costs too much relative to the target, or too few "
                                  "drafts are accepted).", 90),
                 ha="center", va="top", fontsize=8, style="italic")


MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
LINESTYLES = ["-", "--", "-.", ":"]


def series_style(i: int) -> dict:
    """Marker and line style of the i-th series: lines that coincide stay distinguishable."""
    return {"marker": MARKERS[i % len(MARKERS)], "linestyle": LINESTYLES[i % len(LINESTYLES)],
            "markersize": 4, "alpha": 0.9}
