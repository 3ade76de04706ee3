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


def test_speedup_over_records_draws_the_rolling_ratio_and_break_even():
    from osdsim.plots.online import speedup_over_records

    spec = records(40).assign(latency_s=np.linspace(2.0, 1.0, 40))
    runs = {"online": pd.concat([spec, spec.assign(mode="baseline", alpha=np.nan, latency_s=1.5)])}
    fig = speedup_over_records(runs, window=10)
    ax = fig.axes[0]
    plain = pd.Series([1.5] * 40).rolling(10, min_periods=1).sum()
    assert np.allclose(ax.lines[0].get_ydata(), plain / spec["latency_s"].rolling(10, min_periods=1).sum())
    assert list(ax.lines[1].get_ydata()) == [1.0, 1.0]  # break-even
    assert ax.texts[0].get_text() == f"{1.5 * 10 / spec['latency_s'].tail(10).sum():.2f}×"
    with pytest.raises(ValueError, match="baselines"):
        speedup_over_records({"no baseline": records(10)})
    with pytest.raises(ValueError, match="at least one run"):
        speedup_over_records({})
