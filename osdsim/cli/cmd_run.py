"""``osdsim run``: a real draft/target run (speculative decoding, optionally OSD) -> a trace.

Writes the trace (JSON Lines, flushed per line), its learning-curve sidecar
``<trace>.curves.json`` and, for ``--online``, the draft checkpoint ``<trace>.draft.pt`` that
``--resume`` continues from.
"""

from __future__ import annotations

import os

from osdsim.cli.common import UsageError, add_parser, key_values


def register(subparsers) -> None:
    p = add_parser(subparsers, "run", "real speculative decoding (optionally online distillation) "
                   "with PyTorch; writes a trace")
    p.add_argument("--target", help="target model directory (default: osdsim's small target)")
    p.add_argument("--draft", help="draft model directory (default: osdsim's small draft)")
    p.add_argument("--draft-size", default="m", choices=["s", "m", "l"],
                   help="size of osdsim's small draft when --draft is not given")
    p.add_argument("--gamma", type=int, default=3, help="draft tokens per step")
    p.add_argument("--temperature", type=float, default=0.0,
                   help="0: greedy (exact match); above 0: Leviathan rejection sampling")
    p.add_argument("--schedule", default="sql:100,math:100,code:100",
                   help="domain blocks, e.g. sql:300,math:300 (domains: code, prose, sql, math)")
    p.add_argument("--records", type=int, help="serve only the first N records of the schedule")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--online", action="store_true", help="distil the draft online (OSD)")
    p.add_argument("--update-interval", type=int, default=8, help="I: records between updates")
    p.add_argument("--loss", default="fkl", choices=["fkl", "rkl", "jsd", "mix"])
    p.add_argument("--beta", type=float, default=0.5, help="JSD weight")
    p.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate of online updates")
    p.add_argument("--positions", default="mismatch", choices=["mismatch", "all"],
                   help="train on the draft's mistakes only (the paper) or on every position")
    p.add_argument("--baseline", action="store_true",
                   help="also decode each prompt with the target alone (speedup baseline)")
    p.add_argument("--out", help="trace file to write (JSON Lines)")
    p.add_argument("--resume", action="store_true", help="continue the trace at --out")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(handler=run)


def _check(args) -> None:
    if args.gamma < 0 or args.max_new_tokens < 1 or args.update_interval < 1:
        raise UsageError("--gamma must be >= 0, --max-new-tokens and --update-interval >= 1")
    if args.temperature < 0:
        raise UsageError("--temperature must be >= 0")
    if args.resume and not args.out:
        raise UsageError("--resume needs --out, the trace to continue")
    if args.out and os.path.exists(args.out) and not args.resume:
        raise UsageError(f"{args.out} exists; pass --resume to continue it or choose another --out")


def run(args):
    _check(args)
    from osdsim.real.env import import_torch

    torch = import_torch(args.threads or None)
    from tqdm import tqdm

    from osdsim.real.online import Distiller, serve_stream
    from osdsim.real.pair import load_pair
    from osdsim.real.stream import build_requests, parse_schedule
    from osdsim.trace import TraceWriter, new_meta, prepare_resume

    schedule = parse_schedule(args.schedule)
    pair = load_pair(args.target, args.draft, args.draft_size, args.device, args.dtype, args.seed,
                     progress=not args.no_progress)
    requests = build_requests(pair.tokenizer, schedule, args.seed)[: args.records]
    distiller = None
    if args.online:
        distiller = Distiller(pair.draft, args.loss, args.lr, args.update_interval, args.positions,
                              args.beta)
    meta = new_meta(source="osdsim run", **pair.describe(), device=args.device, dtype=args.dtype,
                    threads=torch.get_num_threads(), gamma=args.gamma,
                    mode="greedy" if args.temperature == 0 else "sampling",
                    temperature=args.temperature, max_new_tokens=args.max_new_tokens,
                    schedule=schedule, records=len(requests), baseline=args.baseline,
                    online=None if not args.online else {
                        "update_interval": args.update_interval, "loss": args.loss,
                        "beta": args.beta, "lr": args.lr, "positions": args.positions,
                        "optimizer": "AdamW", "batch": 1},
                    seed=args.seed, torch_version=torch.__version__,
                    transformers_version=_version("transformers"), hardware=_hardware(args.device),
                    load_average_1m=_load_average())
    checkpoint = f"{args.out}.draft.pt" if args.out else None
    start = 0
    if args.resume:
        start = _resume(args, distiller, checkpoint, torch, prepare_resume)
    rows = []
    writer = TraceWriter(args.out, mode="a" if args.resume else "w") if args.out else None

    def emit(kind, **fields):
        if writer:
            writer.write(kind, **fields)
        if kind == "record" and fields.get("mode") == "speculative":
            rows.append(fields)

    def save(d):
        if checkpoint:
            torch.save(d.state_dict(), checkpoint + ".tmp")
            os.replace(checkpoint + ".tmp", checkpoint)

    try:
        if writer and not args.resume:
            writer.write("meta", **meta)
        bar = tqdm(total=len(requests), initial=start, desc="records", disable=args.no_progress,
                   leave=False)
        serve_stream(pair.target, pair.draft, requests[start:], emit, gamma=args.gamma,
                     max_new_tokens=args.max_new_tokens, temperature=args.temperature,
                     seed=args.seed, distiller=distiller, baseline=args.baseline,
                     on_update=save, progress=lambda row: bar.update(1))
        bar.close()
    finally:
        if writer:
            writer.close()
    return _summary(args, meta, rows, start)


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return ""


def _load_average() -> float | None:
    """The 1-minute load average when the run starts (None where the OS has none): a trace
    recorded on a busy machine carries other processes' time in every step."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def _hardware(device: str) -> str:
    import platform

    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(torch.device(device))
    return f"{platform.machine()} CPU, {os.cpu_count()} logical cores"


def _resume(args, distiller, checkpoint, torch, prepare_resume) -> int:
    if not os.path.exists(args.out):
        raise UsageError(f"--resume: {args.out} does not exist")
    last_update = None
    if distiller is not None:
        last_update = -1
        if os.path.exists(checkpoint):
            state = torch.load(checkpoint, weights_only=True)  # untrusted file: tensors and plain data only
            distiller.load_state_dict(state)
            last_update = distiller.updates
    trace = prepare_resume(args.out, last_update)
    written = int(trace.updates["update"].max()) if len(trace.updates) else 0
    if distiller is not None and written != distiller.updates:
        raise UsageError(f"{checkpoint} holds update {distiller.updates} but the trace ends at "
                         f"update {written}; the run cannot be continued exactly")
    spec = trace.records
    if len(spec) and "mode" in spec:
        spec = spec[spec["mode"] != "baseline"]
    return int(spec["record"].max()) + 1 if len(spec) else 0


def _summary(args, meta, rows, start):
    from osdsim.cli.common import Result

    payload = {"trace": args.out, "records": start + len(rows), "new_records": len(rows),
               "target": meta["target"], "draft": meta["draft"],
               "target_params": meta["target_params"], "draft_params": meta["draft_params"],
               "gamma": args.gamma, "online": meta["online"]}
    if rows:
        import pandas as pd

        df = pd.DataFrame(rows)
        payload["mean_alpha"] = float(df["alpha"].mean())
        payload["alpha_by_domain"] = {d: float(g["alpha"].mean()) for d, g in df.groupby("domain")}
        payload["tokens_per_s"] = float(df["num_tokens"].sum() / df["latency_s"].sum())
    if args.out:
        payload["curves"] = _write_curves(args.out)
    text = key_values({k: v for k, v in payload.items() if not isinstance(v, dict)})
    return Result(payload, text)


def _write_curves(path: str) -> str:
    from osdsim.trace import curves_json, curves_path, fit_learning_curves, read_trace

    trace = read_trace(path)
    if trace.records.empty:
        return ""
    curves = fit_learning_curves(trace.records, trace.updates)
    with open(curves_path(path), "w", encoding="utf-8") as f:
        f.write(curves_json(curves))
    return curves_path(path)
