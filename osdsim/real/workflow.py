"""Real-run workflows behind ``osdsim run``, ``train``, ``distill`` and ``profile``.

The CLI parses the command line, calls one of these and prints what it returns. Files: a run
writes its trace (JSON Lines, flushed per line) and, when it distils online, the draft checkpoint
``<trace>.draft.pt`` as it goes, at the path the caller passes, because ``resume`` continues
from exactly those two files; :func:`save_draft` writes a distilled draft where the caller says;
the small models are cached by ``osdsim.real.small``. Nothing else here writes files (the
learning-curves sidecar of a trace is fitted by ``osdsim.calibrate.curves`` and written by the
CLI). torch is imported inside the functions, so importing this module stays light.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

TRAINABLE = ("target", "draft-s", "draft-m", "draft-l")  # what `osdsim train` builds


@dataclass(frozen=True)
class RunOptions:
    """One real run: the pair, the stream, speculative decoding and (``online``) OSD."""

    target: str | None = None  # model directory; None: osdsim's small target
    draft: str | None = None  # model directory; None: osdsim's small draft of draft_size
    draft_size: str = "m"
    gamma: int = 3
    temperature: float = 0.0  # 0: greedy; above: Leviathan rejection sampling
    schedule: str = "sql:100,math:100,code:100"
    records: int | None = None  # serve only the first N records of the schedule
    max_new_tokens: int = 64
    online: bool = False
    update_interval: int = 8
    loss: str = "fkl"
    beta: float = 0.5
    lr: float = 1e-3
    positions: str = "mismatch"
    baseline: bool = False  # also decode each prompt with the target alone
    device: str = "cpu"
    dtype: str = "float32"
    threads: int = 0  # torch threads (0: torch's default)
    seed: int = 0
    progress: bool = True

    def check(self) -> None:
        if self.gamma < 0 or self.max_new_tokens < 1 or self.update_interval < 1:
            raise ValueError("--gamma must be >= 0, --max-new-tokens and --update-interval >= 1")
        if self.temperature < 0:
            raise ValueError("--temperature must be >= 0")

    def online_meta(self) -> dict | None:
        if not self.online:
            return None
        return {"update_interval": self.update_interval, "loss": self.loss, "beta": self.beta,
                "lr": self.lr, "positions": self.positions, "optimizer": "AdamW", "batch": 1}


def checkpoint_path(trace_path: str) -> str:
    """The online draft's checkpoint next to its trace, which ``resume`` continues from."""
    return f"{trace_path}.draft.pt"


def serve_to_trace(options: RunOptions, out: str | None = None, resume: bool = False) -> dict[str, Any]:
    """Serve ``options``' stream with speculative decoding (and OSD when ``online``); write the
    trace to ``out`` as it goes (``resume``: continue the trace and checkpoint there). Returns the
    run's summary (records, mean α overall and by domain, tokens/s of the new records)."""
    options.check()
    if resume and not out:
        raise ValueError("--resume needs --out, the trace to continue")
    if out and os.path.exists(out) and not resume:
        raise ValueError(f"{out} exists; pass --resume to continue it or choose another --out")
    from osdsim.real.env import import_torch

    torch = import_torch(options.threads or None)
    from tqdm import tqdm

    from osdsim.real.online import OnlineDistiller, serve_stream
    from osdsim.real.pair import load_pair
    from osdsim.real.stream import build_requests, parse_schedule
    from osdsim.trace import TraceWriter, new_meta

    o = options
    schedule = parse_schedule(o.schedule)
    pair = load_pair(o.target, o.draft, o.draft_size, o.device, o.dtype, o.seed, progress=o.progress)
    requests = build_requests(pair.tokenizer, schedule, o.seed)[: o.records]
    distiller = OnlineDistiller(pair.draft, o.loss, o.lr, o.update_interval, o.positions, o.beta) if o.online else None
    meta = new_meta(source="osdsim run", **pair.describe(), device=o.device, dtype=o.dtype,
                    threads=torch.get_num_threads(), gamma=o.gamma,
                    mode="greedy" if o.temperature == 0 else "sampling", temperature=o.temperature,
                    max_new_tokens=o.max_new_tokens, schedule=schedule, records=len(requests),
                    baseline=o.baseline, online=o.online_meta(), seed=o.seed, torch_version=torch.__version__,
                    transformers_version=_version("transformers"), hardware=_hardware(o.device),
                    load_average_1m=_load_average())
    checkpoint = checkpoint_path(out) if out else None
    start = _resume(out, distiller, checkpoint) if resume else 0
    rows: list[dict] = []
    writer = TraceWriter(out, mode="a" if resume else "w") if out else None

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
        if writer and not resume:
            writer.write("meta", **meta)
        bar = tqdm(total=len(requests), initial=start, desc="records", disable=not o.progress, leave=False)
        serve_stream(pair.target, pair.draft, requests[start:], emit, gamma=o.gamma,
                     max_new_tokens=o.max_new_tokens, temperature=o.temperature, seed=o.seed,
                     distiller=distiller, baseline=o.baseline, on_update=save,
                     progress=lambda row: bar.update(1))
        bar.close()
    finally:
        if writer:
            writer.close()
    return _summary(out, meta, rows, start)


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


def _resume(out: str, distiller, checkpoint: str) -> int:
    """Cut the trace at ``out`` back to what the checkpoint holds; the first record to serve."""
    import torch

    from osdsim.trace import prepare_resume, speculative_records

    if not os.path.exists(out):
        raise ValueError(f"--resume: {out} does not exist")
    last_update = None
    if distiller is not None:
        last_update = -1
        if os.path.exists(checkpoint):
            state = torch.load(checkpoint, weights_only=True)  # untrusted file: tensors and plain data only
            distiller.load_state_dict(state)
            last_update = distiller.updates
    trace = prepare_resume(out, last_update)
    written = int(trace.updates["update"].max()) if len(trace.updates) else 0
    if distiller is not None and written != distiller.updates:
        raise ValueError(f"{checkpoint} holds update {distiller.updates} but the trace ends at "
                         f"update {written}; the run cannot be continued exactly")
    spec = speculative_records(trace.records)
    return int(spec["record"].max()) + 1 if len(spec) else 0


def _summary(out: str | None, meta: dict, rows: list[dict], start: int) -> dict[str, Any]:
    payload = {"trace": out, "records": start + len(rows), "new_records": len(rows),
               "target": meta["target"], "draft": meta["draft"],
               "target_params": meta["target_params"], "draft_params": meta["draft_params"],
               "gamma": meta["gamma"], "online": meta["online"]}
    if rows:
        import pandas as pd

        df = pd.DataFrame(rows)
        payload["mean_alpha"] = float(df["alpha"].mean())
        payload["alpha_by_domain"] = {d: float(g["alpha"].mean()) for d, g in df.groupby("domain")}
        payload["tokens_per_s"] = float(df["num_tokens"].sum() / df["latency_s"].sum())
    return payload


def train_small_models(names: Sequence[str], seed: int = 0, threads: int = 0,
                       progress: bool = True) -> list[dict[str, Any]]:
    """Train (or find cached) osdsim's small models ``names`` (of :data:`TRAINABLE`); a row each."""
    unknown = sorted(set(names) - set(TRAINABLE))
    if unknown or not names:
        raise ValueError(f"unknown model(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(TRAINABLE)}")
    from osdsim.real.env import import_torch

    import_torch(threads or None)
    from osdsim.real import small

    rows = []
    for name in names:
        before = (small.model_dir(small.PRESETS[name], seed) / "osdsim.json").exists()
        _, path, info = small.train_model(small.PRESETS[name], seed=seed, progress=progress)
        rows.append({"name": name, "params": info["params"], "train_s": round(info["train_s"], 1),
                     "final_loss": round(info["final_loss"], 4), "path": str(path), "cached": bool(before)})
    return rows


# Offline prompts use another seed than `osdsim run`'s stream, so the two never share prompts.
PROMPT_SEED_OFFSET = 1000


def distill_offline(*, target: str | None = None, draft: str | None = None, draft_size: str = "m",
                    source: str = "teacher", ratio: float = 0.5, domains: Sequence[str] = ("sql", "math", "code", "prose"),
                    prompts_per_domain: int = 64, max_new_tokens: int = 64, epochs: int = 2,
                    lr: float = 1e-3, loss: str = "fkl", beta: float = 0.5, device: str = "cpu",
                    dtype: str = "float32", threads: int = 0, seed: int = 0, progress: bool = True):
    """Offline distillation of the draft (the OSD paper's static baseline, ``osdsim.real.offline``):
    returns (the pair with its distilled draft, a summary). :func:`save_draft` writes the draft."""
    if prompts_per_domain < 1 or epochs < 1 or not 0 <= ratio <= 1:
        raise ValueError("--prompts-per-domain and --epochs must be >= 1 and --ratio in 0..1")
    from osdsim.real.env import import_torch

    import_torch(threads or None)
    from tqdm import tqdm

    from osdsim.real.offline import distill, make_sequences
    from osdsim.real.pair import load_pair
    from osdsim.real.stream import build_requests, parse_schedule

    schedule = parse_schedule(",".join(f"{d.strip()}:{prompts_per_domain}" for d in domains))
    pair = load_pair(target, draft, draft_size, device, dtype, seed, progress=progress)
    prompts = [r.prompt for r in build_requests(pair.tokenizer, schedule, seed + PROMPT_SEED_OFFSET)]
    seqs = make_sequences(pair.target, pair.draft, prompts, max_new_tokens, source, seed, ratio)
    bar = tqdm(total=len(seqs) * epochs, desc="distill", disable=not progress, leave=False)
    stats = distill(pair.target, pair.draft, seqs, loss, lr, epochs, seed, beta, progress=lambda _: bar.update(1))
    bar.close()
    summary = {**pair.describe(), "source": source, "loss": loss, "sequences": len(seqs), "epochs": epochs,
               "lr": lr, **stats}
    return pair, summary


def save_draft(pair, out: str) -> None:
    """Write ``pair``'s draft and the target's tokenizer to the directory ``out`` (HF format)."""
    pair.draft.save_pretrained(out)
    pair.tokenizer.save_pretrained(out)


def profile_models(models: Sequence[tuple[str, str]], *, gamma: int = 4, batches: Sequence[int] = (1,),
                   contexts: Sequence[int] = (16, 64, 128, 256), prompt_tokens: Sequence[int] = (),
                   repeats: int = 15, warmup: int = 3, threads: int | None = None, device: str = "cpu",
                   dtype: str = "float32", progress: Callable[[dict], None] | None = None):
    """Median forward times of each (name, source) model over the grid (``osdsim.real.profile``):
    new tokens 1 .. γ+1 at every batch and context, and the prefills of ``prompt_tokens``-long
    prompts at context 0. Returns (timing rows, {name: the model's HF config dict})."""
    if gamma < 0 or repeats < 1 or warmup < 0:
        raise ValueError("--gamma and --warmup must be >= 0 and --repeats >= 1")
    from osdsim.real.env import import_torch
    from osdsim.real.profile import load_for_timing, prefill_grid, profile_model

    import_torch(threads)
    prefills = prefill_grid(prompt_tokens) if prompt_tokens else []
    rows, configs = [], {}
    for name, source in models:
        model, configs[name] = load_for_timing(source, device=device, dtype=dtype)
        grids = [(batches, range(1, gamma + 2), contexts)] + ([([1], prefills, [0])] if prefills else [])
        for b, ks, ctx in grids:
            rows += profile_model(model, name, b, ks, ctx, repeats=repeats, warmup=warmup,
                                  verify_tokens=gamma + 1, device=device, progress=progress)
        del model
    return rows, configs
