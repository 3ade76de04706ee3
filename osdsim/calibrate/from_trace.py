"""Timing rows for ``fit_roofline`` and ``MeasuredCost`` from the steps and records of a real run.

A trace of ``osdsim run`` (``osdsim/real/speculative.py``) times, per step, the draft forwards
(``draft_s``) and the target's verify forward (``verify_s``), and per record its prefill and its
whole latency; baseline records decode the same prompt with the target alone. From those:

- a step's ``verify_s`` is one target forward over ``drafted + 1`` new tokens after a cache of
  ``position − 1`` tokens, plus the step's share of the time the speculative records spent
  outside prefill and steps (``step_gap_s``: cache bookkeeping, the loop itself);
- its ``draft_s`` is ``drafted`` draft forwards of one new token each, at contexts
  ``position − 1 …`` (the first may feed two tokens after a step that accepted everything;
  counted as one);
- a baseline record is a target prefill over ``prompt − 1`` tokens at context 0 and ``num_tokens``
  decode forwards of ``(latency − prefill) / num_tokens`` each, spanning contexts
  ``prompt − 1 … prompt + num_tokens − 2``;
- a speculative record's prefill runs both models over ``prompt − 1`` tokens. The draft's share
  is what the baseline records' prefills leave of it (over the records both have) or, in a run
  without baseline records, the draft's share of a one-token decode forward; any split gives
  the pair's sum exactly, and the sum is what a record of the same pair costs.

``context_fit="linear"`` (default) fits each (model, batch, new_tokens) group of decode and
verify observations with a weighted least-squares line in context (weight = forwards an
observation stands for; slope held ≥ 0, and 0 below ``MIN_LINE_WEIGHT`` forwards): a decode
forward's time is linear in the KV it reads, a record's latency is a sum of such forwards, and
the mean line predicts sums where per-bin means scatter with the machine's noise. Prefill
observations of a model are fitted with a line in their token count. Rows are the lines at each
``context_bin``-token bin's median context and at the lowest and highest context a group's
observations span (so a table built from them covers every context that was run), and at each
prompt length that was prefilled. ``statistic="mean"`` fits least squares, whose predictions
add up to what was measured (throughput; on a shared CPU step times are right-skewed and medians
under-predict sums by 5-30%); ``"median"`` fits least absolute deviations, the machine's usual
speed, which predicts a typical record better when other work comes in bursts.
``context_fit="bins"`` gives the ``statistic`` per context bin and prompt length instead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CONTEXT_FITS = ("linear", "bins")
MIN_LINE_WEIGHT = 8.0  # forwards a group needs before its line gets a slope
_KEYS = ["model", "batch", "new_tokens"]


def timings_from_trace(steps: pd.DataFrame, target: str, draft: str, context_bin: int = 32,
                       records: pd.DataFrame | None = None, statistic: str = "mean",
                       context_fit: str = "linear") -> pd.DataFrame:
    """Timing rows (model, batch, new_tokens, context, seconds, count) from a run trace (see module)."""
    if statistic not in ("mean", "median"):
        raise ValueError(f"statistic must be mean or median, got {statistic!r}")
    if context_fit not in CONTEXT_FITS:
        raise ValueError(f"context_fit must be one of {', '.join(CONTEXT_FITS)}, got {context_fit!r}")
    need = {"drafted", "draft_s", "verify_s", "position"}
    if steps.empty or not need <= set(steps):
        raise ValueError(f"a trace needs step lines with {', '.join(sorted(need))} to calibrate from")
    s = steps.reset_index(drop=True)
    s["batch"] = s.get("batch", pd.Series(1, index=s.index)).fillna(1)
    ctx = s["position"].astype(float) - 1.0
    gap = step_gap_s(s, records) if records is not None else 0.0
    parts = [_obs(target, s["batch"], s["drafted"] + 1, ctx, ctx, s["verify_s"] + gap, 1.0)]
    d = s[s["drafted"] > 0]
    dctx = ctx[d.index]
    parts.append(_obs(draft, d["batch"], 1, dctx, dctx + d["drafted"] - 1.0, d["draft_s"] / d["drafted"],
                      d["drafted"].astype(float)))
    prefills: list[pd.DataFrame] = []
    if records is not None:
        parts += _baseline_decode(records, target)
        prefills = _prefills(records, target, draft, one_token_share(parts, target, draft))
    decode = _usable(pd.concat(parts, ignore_index=True))
    if decode.empty:
        raise ValueError("no step of the trace has a finite, positive draft or verify time to calibrate from")
    decode["bin"] = (decode["context"] // context_bin).astype(int)
    if context_fit == "bins":
        out = [decode.groupby(_KEYS + ["bin"], as_index=False)
               .agg(context=("context", "median"), seconds=("seconds", statistic), count=("seconds", "size"))]
    else:
        out = [_context_line(g, key, statistic) for key, g in decode.groupby(_KEYS)]
    pre = _usable(pd.concat(prefills, ignore_index=True)) if prefills else None
    if pre is not None and len(pre):
        if context_fit == "bins":
            out.append(pre.groupby(_KEYS, as_index=False)
                       .agg(seconds=("seconds", statistic), count=("seconds", "size")).assign(context=0.0))
        else:
            out += [_prefill_line(g, key, statistic) for key, g in pre.groupby(["model", "batch"])]
    rows = pd.concat(out, ignore_index=True)
    rows["context"] = np.round(rows["context"]).astype(int)
    rows[["batch", "new_tokens"]] = rows[["batch", "new_tokens"]].astype(int)
    rows = rows.groupby(_KEYS + ["context"], as_index=False).agg(seconds=("seconds", "mean"),
                                                               count=("count", "sum"))
    return rows.loc[:, ["model", "batch", "new_tokens", "context", "seconds", "count"]]


def _usable(obs: pd.DataFrame) -> pd.DataFrame:
    """Observations with a finite, positive time (a cut or corrupt line can carry null or < 0)."""
    ok = np.isfinite(obs["seconds"].to_numpy(float)) & (obs["seconds"].to_numpy(float) > 0)
    return obs[ok].reset_index(drop=True)


def step_gap_s(steps: pd.DataFrame, records: pd.DataFrame) -> float:
    """Mean time per step that speculative records spent outside their prefill and their steps'
    ``draft_s + verify_s`` (cache bookkeeping, the loop itself); ≥ 0, and 0 without such records."""
    need = {"mode", "record", "prefill_s", "latency_s"}
    if not need <= set(records) or "record" not in steps:
        return 0.0
    spec = records[records["mode"] == "speculative"].dropna(subset=["prefill_s", "latency_s"])
    per = steps.groupby("record").agg(draft=("draft_s", "sum"), verify=("verify_s", "sum"),
                                      steps=("draft_s", "size"))
    per = per.join(spec.set_index("record")[["prefill_s", "latency_s"]], how="inner")
    if per.empty or per["steps"].sum() == 0:
        return 0.0
    gap = (per["latency_s"] - per["prefill_s"] - per["draft"] - per["verify"]).sum() / per["steps"].sum()
    return max(0.0, float(gap))


def one_token_share(parts: list[pd.DataFrame], target: str, draft: str) -> float:
    """The draft's share of a one-token forward of both models (mean over the observations)."""
    obs = pd.concat(parts, ignore_index=True)
    one = obs[obs["new_tokens"] == 1]
    means = {m: np.average(g["seconds"], weights=g["weight"]) for m, g in one.groupby("model")}
    if target not in means or draft not in means:
        return 0.5
    return float(means[draft] / (means[draft] + means[target]))


def _obs(model: str, batch, new_tokens, lo, hi, seconds, weight) -> pd.DataFrame:
    """Mean ``seconds`` per forward over contexts ``lo … hi``, standing for ``weight`` forwards."""
    seconds = np.asarray(seconds, dtype=float)

    def col(v) -> np.ndarray:
        return np.broadcast_to(np.asarray(v, dtype=float), seconds.shape)

    lo, hi = col(lo), col(hi)
    return pd.DataFrame({"model": model, "batch": col(batch), "new_tokens": col(new_tokens), "lo": lo,
                         "hi": hi, "context": (lo + hi) / 2.0, "seconds": seconds, "weight": col(weight)})


def _modes(records: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    need = {"mode", "prompt_tokens", "prefill_s", "latency_s", "num_tokens"}
    if not need <= set(records):
        empty = records.iloc[0:0]
        return empty, empty
    r = records[records["num_tokens"] > 0].dropna(subset=list(need))
    return r[r["mode"] == "baseline"], r[r["mode"] == "speculative"]


def _baseline_decode(records: pd.DataFrame, target: str) -> list[pd.DataFrame]:
    base, _ = _modes(records)
    if base.empty:
        return []
    prompt, n = base["prompt_tokens"].astype(float), base["num_tokens"].astype(float)
    return [_obs(target, 1, 1, prompt - 1.0, prompt + n - 2.0, (base["latency_s"] - base["prefill_s"]) / n, n)]


def _prefills(records: pd.DataFrame, target: str, draft: str, one_token_draft_share: float) -> list[pd.DataFrame]:
    """Prefill observations at context 0: the baseline's (target), and the speculative records'
    split between the two models (module docstring)."""
    base, spec = _modes(records)
    base = base[base["prompt_tokens"] > 1]
    spec = spec[spec["prompt_tokens"] > 1]
    out = []
    if len(base):
        out.append(_obs(target, 1, base["prompt_tokens"] - 1, 0.0, 0.0, base["prefill_s"], 1.0))
    if spec.empty:
        return out
    share = one_token_draft_share
    both = spec.merge(base[["record", "prefill_s"]], on="record", suffixes=("", "_base"))
    if len(both) and both["prefill_s"].sum() > 0:
        share = float(np.clip(1.0 - both["prefill_s_base"].sum() / both["prefill_s"].sum(), 0.0, 1.0))
    if share > 0:
        out.append(_obs(draft, 1, spec["prompt_tokens"] - 1, 0.0, 0.0, share * spec["prefill_s"], 1.0))
    if base.empty and share < 1:
        out.append(_obs(target, 1, spec["prompt_tokens"] - 1, 0.0, 0.0, (1 - share) * spec["prefill_s"], 1.0))
    return out


def _line(x: np.ndarray, y: np.ndarray, w: np.ndarray, statistic: str = "mean") -> tuple[float, float, float]:
    """(x0, y0, slope ≥ 0) of the line y0 + slope·(x − x0). "mean": weighted least squares;
    "median": weighted least absolute deviations (iteratively reweighted least squares), which
    follows the machine's usual speed and ignores bursts. Slope 0 on thin data (under
    ``MIN_LINE_WEIGHT`` forwards or one x)."""
    w = np.asarray(w, dtype=float)
    sloped = w.sum() >= MIN_LINE_WEIGHT
    x0, y0, slope = _ls(x, y, w, sloped)
    if statistic == "median":
        floor = max(float(np.median(np.abs(y))) * 1e-6, 1e-15)
        for _ in range(100):
            r = np.abs(y - (y0 + slope * (x - x0)))
            nx0, ny0, nslope = _ls(x, y, w / np.maximum(r, floor), sloped)
            moved = abs((ny0 + nslope * (x0 - nx0)) - y0) + abs(nslope - slope) * float(np.ptp(x))
            x0, y0, slope = x0, ny0 + nslope * (x0 - nx0), nslope
            if moved <= 1e-9 * abs(y0):
                break
    return x0, y0, slope


def _ls(x: np.ndarray, y: np.ndarray, w: np.ndarray, sloped: bool) -> tuple[float, float, float]:
    mean_x, mean_y = float(np.average(x, weights=w)), float(np.average(y, weights=w))
    spread = float(np.average((x - mean_x) ** 2, weights=w))
    slope = 0.0
    if sloped and spread > 0:
        slope = max(0.0, float(np.average((x - mean_x) * (y - mean_y), weights=w) / spread))
        mean_y = float(np.average(y - slope * (x - mean_x), weights=w))
    return mean_x, mean_y, slope


def _context_line(g: pd.DataFrame, key: tuple, statistic: str) -> pd.DataFrame:
    """The group's line in context at its bins' median contexts and its span's two ends."""
    mean_x, mean_y, slope = _line(*(g[c].to_numpy(float) for c in ("context", "seconds", "weight")), statistic)
    bins = g.groupby("bin").agg(context=("context", "median"), count=("seconds", "size"))
    at = pd.DataFrame({"context": np.round(np.concatenate([[g["lo"].min(), g["hi"].max()], bins["context"]])),
                       "count": np.concatenate([[0, 0], bins["count"]])})
    at["seconds"] = mean_y + slope * (at["context"] - mean_x)
    return at.assign(model=key[0], batch=key[1], new_tokens=key[2])


def _prefill_line(g: pd.DataFrame, key: tuple, statistic: str) -> pd.DataFrame:
    """The model's prefill line in prompt tokens, at every prompt length it prefilled."""
    mean_x, mean_y, slope = _line(*(g[c].to_numpy(float) for c in ("new_tokens", "seconds", "weight")), statistic)
    at = g.groupby("new_tokens", as_index=False).agg(count=("seconds", "size"))
    at["seconds"] = mean_y + slope * (at["new_tokens"] - mean_x)
    return at.assign(model=key[0], batch=key[1], context=0.0)


def update_rows(updates: pd.DataFrame, draft: str) -> pd.DataFrame:
    """(model, num_tokens, seconds) of the draft updates of an online run (``update`` lines)."""
    if updates is None or updates.empty or not {"num_tokens", "update_s"} <= set(updates):
        return pd.DataFrame(columns=["model", "num_tokens", "seconds"])
    u = updates.dropna(subset=["num_tokens", "update_s"])
    u = u[(u["num_tokens"] > 0) & (u["update_s"] > 0)]
    return pd.DataFrame({"model": draft, "num_tokens": u["num_tokens"].astype(int),
                         "seconds": u["update_s"].astype(float)}).reset_index(drop=True)
