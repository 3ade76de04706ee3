"""The alpha-over-records figure: DataFrames in, a Figure out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")


def records(n: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"record": range(n), "domain": ["sql"] * (n // 2) + ["math"] * (n - n // 2),
                         "alpha": rng.uniform(0, 1, n), "mode": "speculative"})


def test_alpha_over_records_lines_and_blocks():
    from osdsim.plots.online import alpha_over_records

    base = records()
    with_baseline = pd.concat([base, base.assign(mode="baseline", alpha=np.nan)])
    fig = alpha_over_records({"online": with_baseline, "untouched": records(seed=1)}, window=10)
    ax = fig.axes[0]
    assert len(ax.lines) == 2 and len(ax.lines[0].get_xdata()) == 120
    smooth = base["alpha"].rolling(10, min_periods=1).mean().to_numpy()
    assert np.allclose(ax.lines[0].get_ydata(), smooth)
    assert {t.get_text() for t in ax.texts} == {"sql", "math"}


def test_alpha_over_records_needs_columns():
    from osdsim.plots.online import alpha_over_records

    with pytest.raises(ValueError, match="alpha"):
        alpha_over_records(pd.DataFrame({"record": [0], "domain": ["x"]}))
