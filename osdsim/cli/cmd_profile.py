"""``osdsim profile``: time forward passes of real models on this device (the calibration input)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from osdsim.cli.common import Result, UsageError, add_parser, add_progress, progress_on, table
from osdsim.safe.atomic import atomic_file, write_text_atomic
from osdsim.safe.numbers import int_range
from osdsim.safe.text import short


def _ints(text: str, name: str, minimum: int) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"{name} must be comma-separated integers, got {short(text)}") from None
    if not values or min(values) < minimum or max(values) > 1_000_000 or len(values) > 1000:
        raise UsageError(f"{name} needs at most 1000 integers in {minimum}..1000000, got {short(text)}")
    return values


def register(subparsers) -> None:
    p = add_parser(subparsers, "profile", "time forward passes of real models on this device",
                   "Median forward latency of each --model over a grid of batch sizes, new tokens "
                   "per sequence (1 .. gamma+1, plus prefill lengths) and context lengths; warm-ups "
                   "discarded. Writes a CSV (model,batch,new_tokens,context,seconds,...) and, next "
                   "to it, <out>.models.json with each model's architecture for `osdsim calibrate`.")
    p.add_argument("--model", action="append", required=True, metavar="NAME=SOURCE",
                   help="a model to time: SOURCE is a local HF directory, an HF config.json, or a "
                        "small preset (target, draft-s, draft-m, draft-l); NAME must match the "
                        "trace's target/draft names (repeat for each model)")
    p.add_argument("--gamma", type=int_range(0, 256), default=4, help="new tokens 1 .. gamma+1 are timed (default 4)")
    p.add_argument("--batch", default="1", help="comma-separated batch sizes (default 1)")
    p.add_argument("--context", default="16,64,128,256", help="comma-separated cached tokens (default 16,64,128,256)")
    p.add_argument("--prefill", default="", help="comma-separated prompt lengths whose prefill to time at context 0")
    p.add_argument("--repeats", type=int_range(1, 100_000), default=15, help="timed rounds per point (median kept)")
    p.add_argument("--warmup", type=int_range(0, 100_000), default=3, help="discarded rounds per point")
    p.add_argument("--threads", type=int_range(1, 4096), help="torch threads (default: torch's); match the run you "
                   "will validate (its meta line's threads)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"))
    p.add_argument("--out", required=True, help="CSV file to write")
    add_progress(p)
    p.set_defaults(handler=run, writes=("out",))


def _pairs(specs: list[str]) -> list[tuple[str, str]]:
    out = []
    for item in specs:
        name, sep, source = item.partition("=")
        if not sep:
            name, source = Path(item).name or item, item
        if not name or not source:
            raise UsageError(f"--model must be NAME=SOURCE, got {item!r}")
        out.append((name, source))
    return out


def run(args) -> Result:
    import pandas as pd

    from osdsim.calibrate.hf_config import model_spec_from_hf_config, spec_to_dict
    from osdsim.real.model_workflows import profile_models

    progress = None if not progress_on(args) else (lambda r: sys.stderr.write(
        f"  {r['model']} b={r['batch']} k={r['new_tokens']} ctx={r['context']}: {r['seconds'] * 1e3:.2f} ms\n"))
    rows, configs = profile_models(
        _pairs(args.model), gamma=args.gamma, batches=_ints(args.batch, "--batch", 1),
        contexts=_ints(args.context, "--context", 0),
        prompt_tokens=_ints(args.prefill, "--prefill", 2) if args.prefill else (), repeats=args.repeats,
        warmup=args.warmup, threads=args.threads, device=args.device, dtype=args.dtype, progress=progress)
    specs = {name: spec_to_dict(model_spec_from_hf_config(config, name)) for name, config in configs.items()}
    df = pd.DataFrame(rows)
    models_path = f"{args.out}.models.json"  # first: the CSV, renamed into place last, names a whole set
    write_text_atomic(models_path, json.dumps(specs, indent=2) + "\n", "model specs")
    with atomic_file(args.out, "timings") as tmp:
        df.to_csv(tmp, index=False)
    payload = {"out": args.out, "models_file": models_path, "points": len(df), "models": sorted(specs),
               "rows": df.to_dict(orient="records")}
    text = table(df.assign(ms=df["seconds"] * 1e3)[["model", "batch", "new_tokens", "context", "ms"]]
                 .to_dict(orient="records"))
    return Result(payload, text + f"\nwrote {args.out} and {models_path}")
