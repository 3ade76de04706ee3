"""``osdsim plot KIND DATA``: a figure from a table (CSV/Parquet) or a trace, written as PNG or SVG."""

from __future__ import annotations

import importlib
from pathlib import Path

from osdsim.cli.common import Result, UsageError, add_parser

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
    p.formatter_class = __import__("argparse").RawDescriptionHelpFormatter
    p.add_argument("kind", choices=sorted(KINDS), help="which figure")
    p.add_argument("data", help="input table (.csv, .parquet) or trace (.jsonl)")
    p.add_argument("--out", required=True, help="output image (.png or .svg)")
    p.add_argument("--title", help="figure title")
    p.add_argument("--dpi", type=int, default=120)
    p.set_defaults(handler=run)


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


def run(args) -> Result:
    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".svg"):
        raise UsageError("--out must end in .png or .svg")
    module, func, _ = KINDS[args.kind]
    data = Path(args.data)
    if args.kind == "alpha-records":
        from osdsim.trace import read_trace

        df = read_trace(data).records
    else:
        df = read_table(data)
    if df.empty:
        raise UsageError(f"{data} has no rows to plot")
    fn = getattr(importlib.import_module(module), func)
    kwargs = {"title": args.title} if args.title else {}
    if args.kind == "tpot-rate":
        kwargs["metric"] = "tpot"
    fig = fn(df, **kwargs)
    out.parent.mkdir(parents=True, exist_ok=True)
    from osdsim.plots.style import save

    save(fig, out, dpi=args.dpi)
    return Result({"kind": args.kind, "out": str(out), "rows": len(df)}, f"wrote {out}")
