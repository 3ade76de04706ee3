"""``calibrate_card``: what ``osdsim calibrate`` computes, from timings or a run trace to a card.

Timing rows come from ``osdsim profile`` (a CSV) or from a run trace's steps and records
(``calibrate.from_trace``); each timed model gets a spec (``calibrate.hf_config.resolve_spec``);
:func:`osdsim.calibrate.fit.fit_roofline` fits the card's free parameters; the result carries
the card mapping (``calibrate.card``) for the CLI to write. Nothing here writes files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from osdsim.calibrate.fit import Fit
from osdsim.safe.text import short


@dataclass
class Calibration:
    """A fit, its JSON-able summary, and what the written card holds."""

    payload: dict[str, Any]
    fit: Fit
    base: str  # the card the peaks and bandwidth came from
    table: pd.DataFrame | None = None  # the measured forwards the card keeps (None: --no-table)
    updates: pd.DataFrame | None = None  # the measured draft updates it keeps
    source: str = ""
    renames: dict[str, str] = field(default_factory=dict)

    def card(self, name: str) -> dict[str, Any]:
        """The calibrated card's mapping, called ``name``."""
        from osdsim.calibrate.card import hardware_card

        return {"name": name, **hardware_card(self.fit.hardware, self.table, source=self.source,
                                              updates=self.updates)}


def calibrate_card(*, timings: str | None = None, trace: str | None = None, hardware: str = "cpu",
                   models: str | None = None, target_card: str | None = None, draft_card: str | None = None,
                   dtype: str | None = None, records: str = "all", context_fit: str = "linear",
                   statistic: str = "mean", keep_table: bool = True) -> Calibration:
    """Fit ``hardware``'s efficiencies and overheads to ``timings`` (CSV of ``osdsim profile``) or
    to the ``records`` of the run ``trace``. With a trace, ``target_card``/``draft_card`` give the
    pair's architectures and key the written table by those cards' names."""
    from osdsim.calibrate.fit import fit_roofline
    from osdsim.calibrate.hf_config import load_specs, resolve_spec
    from osdsim.specs import load_hardware

    if (timings is None) == (trace is None):
        raise ValueError("calibrate needs exactly one of --timings and --trace")
    roles: dict[str, str] = {}
    updates = None
    if timings:
        rows = _timing_rows(timings, statistic)
        default_models = Path(f"{timings}.models.json")
    else:
        rows, roles, updates = _trace_rows(trace, records, statistic, context_fit)
        default_models = Path(f"{trace}.models.json")  # the run's architectures, when saved beside it
    if "model" not in rows:
        raise ValueError("timings have no 'model' column")
    path = models or (str(default_models) if default_models and default_models.is_file() else None)
    specs = load_specs(path) if path else {}
    cards = {"target": target_card, "draft": draft_card}
    names = set(rows["model"].astype(str))
    base = load_hardware(hardware)
    fit = fit_roofline(rows, {n: resolve_spec(n, specs, cards.get(roles.get(n))) for n in names}, base, dtype=dtype)
    payload = {"hardware": base.name, "source": timings or trace, "statistic": statistic, "params": fit.params,
               "fit": fit.summary(), "points": fit.points.to_dict(orient="records")}
    if updates is not None and len(updates):
        payload["updates"] = update_fit(updates)
    renames = _card_names(roles, cards)
    source = (f"osdsim calibrate of {base.name} to {timings or trace}: median |error| "
              f"{fit.summary()['median_abs_rel_error'] * 100:.2f}% over {len(fit.points)} points")
    return Calibration(payload, fit, base.name,
                       table=_renamed(fit.points, renames) if keep_table else None,
                       updates=_renamed(updates, renames) if keep_table and updates is not None else None,
                       source=source, renames=renames)


def _timing_rows(timings: str, statistic: str) -> pd.DataFrame:
    try:
        rows = pd.read_csv(timings)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read timings {timings}: {exc}") from None
    if statistic == "mean" and "mean_s" in rows:
        rows = rows.assign(seconds=rows["mean_s"])
    return _checked_timings(rows, timings)


# Columns of a timings CSV (``osdsim profile``) and the least value each may take.
TIMING_COLUMNS = {"batch": 1, "new_tokens": 1, "context": 0, "seconds": 0}


def _checked_timings(rows: pd.DataFrame, where: str) -> pd.DataFrame:
    """``rows`` if every timing column is there and holds finite numbers in range (seconds > 0);
    a NaN, an infinity, a negative time or a word where a number belongs is one sentence."""
    import numpy as np

    missing = [c for c in ("model", *TIMING_COLUMNS) if c not in rows]
    if missing:
        raise ValueError(f"timings {where} lack the column(s) {', '.join(missing)}")
    if rows.empty:
        raise ValueError(f"timings {where} have no rows")
    for col, low in TIMING_COLUMNS.items():
        values = pd.to_numeric(rows[col], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values) | (values < low) | ((values <= 0) if col == "seconds" else False)
        if bad.any():
            i = int(np.argmax(bad))
            need = "finite seconds > 0" if col == "seconds" else f"a finite number >= {low}"
            raise ValueError(f"timings {where} row {i + 1}: {col} must be {need}, got {short(rows[col].iloc[i])}")
        rows = rows.assign(**{col: values})
    return rows


def _trace_rows(path: str, records: str, statistic: str, context_fit: str):
    """(timing rows, {trace model name: "target" | "draft"}, draft-update rows) of a run trace."""
    from osdsim.calibrate.from_trace import timings_from_trace, update_rows
    from osdsim.trace import read_trace, select_records

    trace = read_trace(path)
    target, draft = trace.meta.get("target"), trace.meta.get("draft")
    if not target or not draft:
        raise ValueError(f"{path}: the meta line names no target and draft")
    roles = {str(target): "target", str(draft): "draft"}
    trace = select_records(trace, records)
    rows = timings_from_trace(trace.steps, str(target), str(draft), records=trace.records, statistic=statistic,
                              context_fit=context_fit)
    return rows, roles, update_rows(trace.updates, str(draft))


def update_fit(updates: pd.DataFrame) -> dict[str, Any]:
    """The update-time line a + b·tokens that MeasuredCost will use, and its error per update."""
    import numpy as np

    from osdsim.cost.measured import update_lines

    (a, b), = update_lines(updates.itertuples(index=False)).values()
    err = np.abs((a + b * updates["num_tokens"]) / updates["seconds"] - 1.0)
    return {"rows": int(len(updates)), "seconds_fixed": a, "seconds_per_token": b,
            "median_abs_rel_error": float(err.median()), "max_abs_rel_error": float(err.max())}


def _card_names(roles: dict[str, str], cards: dict[str, str | None]) -> dict[str, str]:
    """Trace model name → the name of its LLM card (``--target-card``/``--draft-card``), so that a
    scenario naming those cards prices its forwards from the table; other models keep their names."""
    from osdsim.specs import load_model

    return {name: load_model(cards[role]).name for name, role in roles.items() if cards.get(role)}


def _renamed(points: pd.DataFrame, renames: dict[str, str]) -> pd.DataFrame:
    return points.replace({"model": renames}) if renames else points
