"""The real-run workflow behind ``osdsim run`` (``train``, ``distill`` and ``profile`` are in
``osdsim.real.model_workflows``).

The CLI parses the command line, calls :func:`serve_to_trace` and prints what it returns. A run
writes its trace (JSON Lines, flushed per line) and, when it distils online, the draft checkpoint
``<trace>.draft.pt`` as it goes, at the path the caller passes, because ``resume`` continues
from exactly those two files. Nothing else here writes files (the learning-curves sidecar of a
trace is fitted by ``osdsim.calibrate.curves`` and written by the CLI). torch is imported inside
the functions, so importing this module stays light.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from typing import Any

from osdsim.safe.atomic import atomic_file
from osdsim.safe.lock import OutputLock
from osdsim.safe.numbers import check_int, check_number
from osdsim.safe.text import one_line, short


@dataclass(frozen=True)
class RunOptions:
    """One real run: the pair, the stream, speculative decoding and (``online``) OSD."""

    target: str | None = None  # model directory; None: osdsim's small target
    draft: str | None = None  # model directory; None: osdsim's small draft of draft_size
    draft_size: str = "m"
    proposer: str = "model"  # model | ngram | self (osdsim.real.proposers)
    self_layers: int | None = None  # proposer "self": the target's first K layers draft
    ngram_max: int = 3  # proposer "ngram": longest suffix matched
    ngram_min: int = 1  # proposer "ngram": shortest suffix matched
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
    save_draft: str | None = None  # --online: write the adapted draft here at the end (HF folder)
    ignore_eos: bool = False  # run every record to max_new_tokens (vLLM's ignore_eos) instead of stopping at EOS

    def check(self) -> None:
        check_run_numbers(self)  # finite, in range, of the right type: before any model is loaded
        if self.gamma < 0 or self.max_new_tokens < 1 or self.update_interval < 1:
            raise ValueError("--gamma must be >= 0, --max-new-tokens and --update-interval >= 1")
        if self.temperature < 0:
            raise ValueError("--temperature must be >= 0")
        from osdsim.real.proposers import PROPOSERS

        if self.proposer not in PROPOSERS:
            raise ValueError(f"--proposer must be one of {', '.join(PROPOSERS)}, got {self.proposer!r}")
        if self.proposer != "model" and self.online:
            raise ValueError(f"--online distils a draft model; the {self.proposer} proposer has none to train "
                             "(use --proposer model)")
        if self.proposer != "model" and self.draft:
            raise ValueError(f"--draft names a draft model; the {self.proposer} proposer uses none")
        if self.proposer == "self" and self.self_layers is None:
            raise ValueError("--proposer self needs --self-layers K (the target's first K layers draft)")
        if self.proposer != "self" and self.self_layers is not None:
            raise ValueError("--self-layers applies to --proposer self only")
        if self.save_draft and not self.online:
            raise ValueError("--save-draft writes the online-distilled draft; add --online")

    def online_meta(self) -> dict | None:
        if not self.online:
            return None
        return {"update_interval": self.update_interval, "loss": self.loss, "beta": self.beta,
                "lr": self.lr, "positions": self.positions, "optimizer": "AdamW", "batch": 1}


DEVICE = re.compile(r"^(cpu|mps|meta|(cuda|xpu|npu|hpu)(:[0-9]{1,3})?)$")


def check_device(device) -> str:
    """``device`` if it names a torch device (cpu, cuda, cuda:1, mps, ...); one sentence otherwise."""
    if not isinstance(device, str) or not DEVICE.match(device):
        raise ValueError(f"--device must be cpu, cuda, cuda:N, mps or xpu, got {short(device)}")
    return device


def check_run_numbers(o) -> None:
    """The numbers of :class:`RunOptions` (or another object with the same fields): finite, in range."""
    check_int(o.gamma, "--gamma", 0, 256)
    check_int(o.max_new_tokens, "--max-new-tokens", 1, 100_000)
    check_int(o.update_interval, "--update-interval", 1, 10_000_000)
    check_number(o.temperature, "--temperature", minimum=0, maximum=100)
    check_number(o.lr, "--lr", minimum=0, maximum=10, strict=True)
    check_number(o.beta, "--beta", minimum=0, maximum=1)
    check_int(o.threads, "--threads", 0, 4096)
    check_int(o.seed, "--seed", 0, 2**63 - 1)
    if o.records is not None:
        check_int(o.records, "--records", 1, 10_000_000)  # a negative count would be a Python slice
    if getattr(o, "self_layers", None) is not None:
        check_int(o.self_layers, "--self-layers", 1, 10_000)
    for name in ("ngram_max", "ngram_min"):
        if hasattr(o, name):
            check_int(getattr(o, name), f"--{name.replace('_', '-')}", 1, 64)
    check_device(o.device)


def checkpoint_path(trace_path: str) -> str:
    """The online draft's checkpoint next to its trace, which ``resume`` continues from."""
    return f"{trace_path}.draft.pt"


def serve_to_trace(options: RunOptions, out: str | None = None, resume: bool = False) -> dict[str, Any]:
    """Serve ``options``' stream with speculative decoding (and OSD when ``online``); write the
    trace to ``out`` as it goes (``resume``: continue the trace and checkpoint there). Returns the
    run's summary (records, mean α overall and by domain, tokens/s of the new records).

    The trace is one writer's: its lock (``<out>.lock``, ``osdsim.safe.lock``) is held from before
    the "exists" check to the last line, so a second run or a ``--resume`` on the same trace is
    refused with the holder's PID. A fresh trace appears with its meta line (written beside it and
    renamed), so a run that fails early leaves nothing; a resume must match the meta line."""
    options.check()
    if options.save_draft:  # refused now, not after the run: a file, or a folder of other files
        from osdsim.real.model_workflows import DRAFT_FILES
        from osdsim.safe.atomic import check_out_dir

        check_out_dir(options.save_draft, DRAFT_FILES, "--save-draft folder")
    if resume and not out:
        raise ValueError("--resume needs --out, the trace to continue")
    with OutputLock(out, "trace") if out else contextlib.nullcontext():
        return _serve(options, out, resume)


def _serve(options: RunOptions, out: str | None, resume: bool) -> dict[str, Any]:
    if out and os.path.isdir(out):
        raise ValueError(f"--out {out} is a folder; give the trace's file name")
    if out and os.path.exists(out) and os.path.getsize(out) > 0 and not resume:  # an empty file holds nothing
        raise ValueError(f"{out} exists; pass --resume to continue it or choose another --out")
    from osdsim.real.env import hardware_name, import_torch, load_average, package_version

    torch = import_torch(options.threads or None)
    from tqdm import tqdm

    from osdsim.real.online import OnlineDistiller, serve_stream
    from osdsim.real.pair import load_pair, load_with_proposer
    from osdsim.real.stream import build_requests, parse_schedule
    from osdsim.trace import TraceWriter, new_meta

    o = options
    schedule = parse_schedule(o.schedule)
    if o.proposer == "model":
        pair = load_pair(o.target, o.draft, o.draft_size, o.device, o.dtype, o.seed, progress=o.progress)
    else:
        pair = load_with_proposer(o.target, o.proposer, self_layers=o.self_layers, max_ngram=o.ngram_max,
                                  min_ngram=o.ngram_min, device=o.device, dtype=o.dtype, seed=o.seed,
                                  progress=o.progress)
    requests = build_requests(pair.tokenizer, schedule, o.seed)[: o.records]
    stop = [] if o.ignore_eos else pair.stop_tokens()
    distiller = OnlineDistiller(pair.draft, o.loss, o.lr, o.update_interval, o.positions, o.beta) if o.online else None
    meta = new_meta(source="osdsim run", **pair.describe(), device=o.device, dtype=o.dtype,
                    threads=torch.get_num_threads(), gamma=o.gamma, proposer=pair.proposer(),
                    mode="greedy" if o.temperature == 0 else "sampling", temperature=o.temperature,
                    max_new_tokens=o.max_new_tokens, stop_tokens=stop, schedule=schedule, records=len(requests),
                    baseline=o.baseline, online=o.online_meta(), seed=o.seed, torch_version=torch.__version__,
                    transformers_version=package_version("transformers"), hardware=hardware_name(o.device),
                    load_average_1m=load_average())
    checkpoint = checkpoint_path(out) if out else None
    start = _resume(out, distiller, checkpoint, meta) if resume else 0
    rows: list[dict] = []
    if out and not resume:  # the trace appears whole with its meta line, never as an empty file
        with atomic_file(out, "trace") as tmp, TraceWriter(tmp, mode="w") as first:
            first.write("meta", **meta)
    writer = TraceWriter(out, mode="a") if out else None

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
        bar = tqdm(total=len(requests), initial=start, desc="records", disable=not o.progress, leave=False)
        serve_stream(pair.target, pair.draft, requests[start:], emit, gamma=o.gamma,
                     max_new_tokens=o.max_new_tokens, temperature=o.temperature, seed=o.seed,
                     distiller=distiller, baseline=o.baseline, on_update=save,
                     progress=lambda row: bar.update(1), stop_tokens=frozenset(stop))
        bar.close()
    finally:
        if writer:
            writer.close()
    if o.save_draft:
        from osdsim.real.model_workflows import save_draft

        save_draft(pair, o.save_draft)
    return _summary(out, meta, rows, start)


class ResumeMismatch(ValueError):
    """``--resume`` of a trace that a run with other options wrote."""


# Meta fields a resumed run must share with its trace: what it serves and how it decodes. (The
# record count may grow: a run stopped with --records N continues to the whole schedule.)
RESUME_FIELDS = ("target", "draft", "target_params", "draft_params", "proposer", "gamma", "mode", "temperature",
                 "max_new_tokens", "stop_tokens", "schedule", "online", "baseline", "seed", "device", "dtype")
# What a trace written before a field existed did: every record ran to max_new_tokens.
RESUME_DEFAULTS = {"stop_tokens": []}


def resume_mismatch(old: dict, new: dict) -> list[str]:
    """The :data:`RESUME_FIELDS` where the trace's meta line ``old`` and the run's ``new`` differ,
    each as ``"field: trace X, now Y"`` (a field an older trace lacks takes its value from
    :data:`RESUME_DEFAULTS`, or is not compared)."""
    import json

    def plain(v):
        return json.loads(json.dumps(v, default=str))

    old = {**RESUME_DEFAULTS, **old}
    return [f"{k}: trace {short(old[k], 40)}, now {short(new.get(k), 40)}" for k in RESUME_FIELDS
            if k in old and plain(old[k]) != plain(new.get(k))]


def _resume(out: str, distiller, checkpoint: str, meta: dict) -> int:
    """Cut the trace at ``out`` back to what the checkpoint holds; the first record to serve.
    Refused, with the trace untouched, when the trace was written by a run with other options."""
    import pickle

    import torch

    from osdsim.trace import prepare_resume, read_trace, speculative_records

    if not os.path.exists(out):
        raise ValueError(f"--resume: {out} does not exist")
    if os.path.getsize(out) == 0:
        raise ValueError(f"--resume: {out} is empty (its run wrote nothing); run again without --resume")
    differ = resume_mismatch(read_trace(out).meta, meta)
    if differ:
        raise ResumeMismatch(f"--resume: {out} was written by a run with other options ({'; '.join(differ)}); "
                         "resume with the trace's options or choose another --out")
    last_update = None
    if distiller is not None:
        last_update = -1
        if os.path.exists(checkpoint):
            try:  # untrusted file: tensors and plain data only
                state = torch.load(checkpoint, weights_only=True)
                distiller.load_state_dict(state)
            except (pickle.UnpicklingError, RuntimeError, EOFError, KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"--resume: {checkpoint} is not a draft checkpoint osdsim can load safely "
                                 f"({one_line(str(exc), 120)})") from None
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
    if out and start:  # resumed: α and tokens/s over the whole trace, not only this call's records
        from osdsim.trace import read_trace, speculative_records

        rows = speculative_records(read_trace(out).records).to_dict("records")
    if rows:
        import pandas as pd

        df = pd.DataFrame(rows)
        payload["mean_alpha"] = float(df["alpha"].mean())
        payload["alpha_by_domain"] = {d: float(g["alpha"].mean()) for d, g in df.groupby("domain")}
        payload["tokens_per_s"] = float(df["num_tokens"].sum() / df["latency_s"].sum())
    return payload
