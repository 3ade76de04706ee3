"""``osdsim plot KIND DATA``: a figure from a table (CSV/Parquet) or a trace, written as PNG or SVG."""

from __future__ import annotations

import importlib
from pathlib import Path

from osdsim.cli.common import Result, UsageError, add_parser
from osdsim.safe.numbers import int_range

# kind -> (module, function, what DATA is)
KINDS = {
    "speedup-alpha": ("osdsim.plots.speedup", "speedup_vs_alpha", "table: alpha, gamma, c, speedup"),
    "latency-rate": ("osdsim.plots.studies", "latency_vs_rate", "table: rate, mode, latency_p50_s, latency_p99_s"),
    "tpot-rate": ("osdsim.plots.studies", "latency_vs_rate", "table: rate, mode, tpot_p50_s, tpot_p99_s"),
    "speedup-rate": ("osdsim.plots.studies", "speedup_vs_rate", "table: rate, speedup [, series]"),
    "replicas-load": ("osdsim.plots.studies", "replicas_vs_load", "table: rate, mode, gpus"),
    "draft-size": ("osdsim.plots.studies", "speedup_vs_draft_size", "table: draft_params, speedup [, alpha, c]"),
    "update-interval": ("osdsim.plots.studies", "vs_update_interval",
                        "table: update_interval, speedup, latency_p50_s"),
    "alpha-records": ("osdsim.plots.online", "alpha_over_records", "a run trace (.jsonl)"),
}


def register(subparsers) -> None:
    lines = "\n".join(f"  {k:16s} {v[2]}" for k, v in KINDS.items())
    p = add_parser(subparsers, "plot", "draw a figure from a table or a trace",
                   f"Figures by kind (DATA is):\n{lines}")
    p.add_argument("kind", choices=sorted(KINDS), help="which figure")
    p.add_argument("data", help="input table (.csv, .parquet) or trace (.jsonl)")
    p.add_argument("--out", required=True, help="output image (.png or .svg)")
    p.add_argument("--title", help="figure title")
    p.add_argument("--dpi", type=int_range(10, 1200), default=120, help="dots per inch, 10..1200 (default 120)")
    p.set_defaults(handler=run, writes=("out",))


def read_table(path: Path):
    import pandas as pd

    if not path.is_file():
        raise UsageError(f"input file {path} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix in (".jsonl", ".json"):
            return pd.read_json(path, lines=suffix == ".jsonl")
        return pd.read_csv(path)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read a table ({exc})") from None


# Swept fields that make a line of their own in a rate plot of a sweep table (first: slowest).
SERIES_AXES = ("gamma", "draft", "acceptance.alpha", "alpha", "framework", "tp", "max_batch", "online.update_interval",
               "hardware", "target")


def normalise(df, kind: str):
    """A table written by `osdsim sweep` or `osdsim plan`, in the columns each figure reads: a
    sweep's ``workload.rate`` is ``rate``, its other swept fields that vary make the ``series``
    (and the ``mode`` of latency plots); a sweep over ``online.update_interval`` has ``update_interval``."""
    df = df.copy()
    for alias, full in (("rate", "workload.rate"), ("update_interval", "online.update_interval"),
                        ("alpha", "acceptance.alpha")):
        if alias not in df.columns and full in df.columns:
            df[alias] = df[full]
    if kind in ("speedup-rate", "latency-rate", "tpot-rate", "update-interval") and "series" not in df.columns:
        skip = {"rate", "workload.rate"} | ({"update_interval", "online.update_interval"}
                                           if kind == "update-interval" else set())
        varying = [c for c in SERIES_AXES if c in df.columns and c not in skip and df[c].astype(str).nunique() > 1]
        if varying:
            df["series"] = [", ".join(f"{'γ' if c == 'gamma' else c} = {r[c]}" for c in varying)
                            for _, r in df.iterrows()]
    if kind in ("latency-rate", "tpot-rate") and "mode" not in df.columns:
        df["mode"] = df["series"] if "series" in df.columns else "speculative"
    return df


def run(args) -> Result:
    import numpy as np

    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".svg"):
        raise UsageError("--out must end in .png or .svg")
    module, func, _ = KINDS[args.kind]
    data = Path(args.data)
    if args.kind == "alpha-records":
        from osdsim.trace import read_trace

        df = read_trace(data).records
    else:
        df = normalise(read_table(data), args.kind)
    if df.empty:
        raise UsageError(f"{data} has no rows to plot")
    numbers = df.select_dtypes("number").to_numpy(dtype=float)
    if not numbers.size or not np.isfinite(numbers).any():  # a figure of nothing is not a result
        raise UsageError(f"{data} has no finite numbers to plot")
    fn = getattr(importlib.import_module(module), func)
    kwargs = {"title": args.title} if args.title else {}
    if args.kind == "tpot-rate":
        kwargs["metric"] = "tpot"
    fig = fn(df, **kwargs)
    from osdsim.plots.style import save  # atomic: the image is renamed into place when complete

    save(fig, out, dpi=args.dpi)
    return Result({"kind": args.kind, "out": str(out), "rows": len(df)}, f"wrote {out}")
