"""Model workflows behind ``osdsim train``, ``distill`` and ``profile``: build osdsim's small
models (cached by ``osdsim.real.small``), distil a draft offline and save it where the caller
says (:func:`save_draft`, atomically), and time forwards. ``osdsim run`` is in
``osdsim.real.workflow``. torch is imported inside the functions, so importing this module stays
light.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from osdsim.real.workflow import check_device
from osdsim.safe.atomic import atomic_dir
from osdsim.safe.numbers import check_int, check_number
from osdsim.safe.text import short

TRAINABLE = ("target", "draft-s", "draft-m", "draft-l")  # what `osdsim train` builds


def train_small_models(names: Sequence[str], seed: int = 0, threads: int = 0,
                       progress: bool = True) -> list[dict[str, Any]]:
    """Train (or find cached) osdsim's small models ``names`` (of :data:`TRAINABLE`); a row each."""
    unknown = sorted(set(names) - set(TRAINABLE))
    if unknown or not names:
        raise ValueError(f"unknown model(s) {short(', '.join(unknown)) if unknown else '(none)'}; "
                         f"choose from {', '.join(TRAINABLE)}")
    check_int(threads, "--threads", 0, 4096)
    check_int(seed, "--seed", 0, 2**63 - 1)
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


def train_pretrained_drafts(target: str, sizes: Sequence[str], threads: int = 0, progress: bool = True):
    """Build (or find cached) the generic drafts of a pretrained ``target`` (``osdsim.real.pair``:
    s, m, l = its first 1, 2, 4 layers, distilled on ShareGPT text); a row each."""
    from osdsim.real.pair import PRETRAINED_DRAFT_LAYERS, pretrained_draft_dir
    from osdsim.real.pretrained import PRETRAINED

    if target not in PRETRAINED:
        raise ValueError(f"--target must be a pretrained name ({', '.join(PRETRAINED)}), got {short(target)}")
    unknown = sorted(set(sizes) - set(PRETRAINED_DRAFT_LAYERS))
    if unknown or not sizes:
        raise ValueError(f"draft sizes for a pretrained target are {', '.join(PRETRAINED_DRAFT_LAYERS)}; got "
                         f"{short(', '.join(unknown)) if unknown else '(none)'}")
    check_int(threads, "--threads", 0, 4096)
    from osdsim.real.env import import_torch

    import_torch(threads or None)
    import json

    rows = []
    for size in sizes:
        folder = pretrained_draft_dir(target, size, progress)
        info = json.loads((folder / "osdsim-draft.json").read_text())
        rows.append({"name": f"{target} draft {size}", "layers": info.get("layers"),
                     "head_rows": info.get("keep", 0) + 1, "vocab_coverage": info.get("vocab_coverage"),
                     "path": str(folder)})
    return rows


# Offline prompts use another seed than `osdsim run`'s stream, so the two never share prompts.
PROMPT_SEED_OFFSET = 1000


def distill_offline(*, target: str | None = None, draft: str | None = None, draft_size: str = "m",
                    source: str = "teacher", ratio: float = 0.5, domains: Sequence[str] = ("sql", "math", "code", "prose"),
                    prompts_per_domain: int = 64, max_new_tokens: int = 64, epochs: int = 2,
                    lr: float = 1e-3, loss: str = "fkl", beta: float = 0.5, device: str = "cpu",
                    dtype: str = "float32", threads: int = 0, seed: int = 0, progress: bool = True,
                    draft_vocab: int = 8192, text_tokens: int = 0, text_lr: float = 3e-4):
    """Offline distillation of the draft (the OSD paper's static baseline, ``osdsim.real.offline``):
    returns (the pair with its distilled draft, a summary). :func:`save_draft` writes the draft.

    ``draft`` "layers:K" builds a new draft from the target (its first K layers, a head over the
    ``draft_vocab`` most frequent tokens: ``osdsim.real.drafts``). The teacher's continuations
    are cached (``osdsim.real.offline.cached_sequences``): drafts of several sizes distilled on
    the same prompts generate them once.

    ``text_tokens`` > 0 first distils on that many tokens of ShareGPT's training split rendered
    with the target's chat template (teacher forcing, no generation: ``offline.distill_text``);
    ``domains`` may then be empty."""
    domains = [d.strip() for d in domains if d.strip()]
    check_int(text_tokens, "--text-tokens", 0, 100_000_000)
    check_number(text_lr, "--text-lr", minimum=0, maximum=10, strict=True)
    if not domains and not text_tokens:
        raise ValueError("nothing to distil on: give --domains or --text-tokens")
    if prompts_per_domain < 1 or epochs < 1 or not 0 <= ratio <= 1:
        raise ValueError("--prompts-per-domain and --epochs must be >= 1 and --ratio in 0..1")
    check_int(prompts_per_domain, "--prompts-per-domain", 1, 1_000_000)
    check_int(draft_vocab, "--draft-vocab", 2, 262_144)
    check_int(epochs, "--epochs", 1, 100_000)
    check_int(max_new_tokens, "--max-new-tokens", 1, 100_000)
    check_number(lr, "--lr", minimum=0, maximum=10, strict=True)
    check_number(beta, "--beta", minimum=0, maximum=1)
    check_int(threads, "--threads", 0, 4096)
    check_int(seed, "--seed", 0, 2**63 - 1)
    check_device(device)
    from osdsim.real.env import import_torch

    import_torch(threads or None)
    from tqdm import tqdm

    from osdsim.real.offline import cached_sequences, distill
    from osdsim.real.pair import build_pair, is_built_draft, load_pair
    from osdsim.real.stream import build_requests, parse_schedule

    schedule = parse_schedule(",".join(f"{d}:{prompts_per_domain}" for d in domains)) if domains else []
    if is_built_draft(draft):
        pair = build_pair(target, draft, draft_vocab, device=device, dtype=dtype, seed=seed, progress=progress)
    else:
        pair = load_pair(target, draft, draft_size, device, dtype, seed, progress=progress)
    summary = {**pair.describe(), **_draft_info(pair.draft), "loss": loss}
    if text_tokens:
        summary.update(_distill_on_text(pair, text_tokens, loss, text_lr, seed, beta, progress))
    if schedule:
        prompts = [r.prompt for r in build_requests(pair.tokenizer, schedule, seed + PROMPT_SEED_OFFSET)]
        seqs = cached_sequences(pair, prompts, max_new_tokens, source, seed, ratio, progress)
        bar = tqdm(total=len(seqs) * epochs, desc="distill", disable=not progress, leave=False)
        stats = distill(pair.target, pair.draft, seqs, loss, lr, epochs, seed, beta, progress=lambda _: bar.update(1))
        bar.close()
        summary.update({"source": source, "sequences": len(seqs), "epochs": epochs, "lr": lr, **stats})
    return pair, summary


TEXT_SEQ_LEN, TEXT_BATCH = 256, 4  # chunks of ShareGPT text for distill_text


def _distill_on_text(pair, text_tokens: int, loss: str, lr: float, seed: int, beta: float, progress: bool) -> dict:
    from tqdm import tqdm

    from osdsim.real.datasets import training_conversations
    from osdsim.real.offline import conversation_chunks, distill_text

    chunks = conversation_chunks(pair.tokenizer, training_conversations(), TEXT_SEQ_LEN, text_tokens)
    if not chunks:
        raise ValueError(f"--text-tokens {text_tokens} is less than one {TEXT_SEQ_LEN}-token chunk")
    bar = tqdm(total=len(chunks), desc="distill on text", disable=not progress, leave=False)
    stats = distill_text(pair.target, pair.draft, chunks, loss, lr, TEXT_BATCH, seed, beta,
                         progress=lambda _: bar.update(TEXT_BATCH))
    bar.close()
    return {"text": "ShareGPT V3 training split (osdsim.real.datasets), chat template", "text_lr": lr, **stats}


def _draft_info(draft) -> dict:
    info = getattr(draft, "info", None)
    if not info:
        return {}
    return {"draft_layers": info.get("layers"), "draft_vocab": len(draft.keep_ids),
            "draft_vocab_coverage": info.get("vocab_coverage")}


DRAFT_FILES = ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
               "tokenizer_config.json", "special_tokens_map.json", "osdsim-draft.json", "chat_template.jinja")  # what save_pretrained writes


def save_draft(pair, out: str) -> None:
    """Write ``pair``'s draft and the target's tokenizer to the directory ``out`` (HF format).

    Refused when a weight is NaN or infinite (training diverged: nothing worth saving), or when
    ``out`` is a file or a folder of other files; written into a temporary folder beside ``out``
    and renamed into place, so ``out`` holds a whole model or nothing."""
    import torch

    bad = [name for name, t in pair.draft.state_dict().items() if not bool(torch.isfinite(t).all())]
    if bad:
        raise ValueError(f"the distilled draft has NaN or infinite weights in {len(bad)} tensors "
                         f"({', '.join(bad[:2])}{', ...' if len(bad) > 2 else ''}): training diverged; "
                         "lower --lr; nothing was saved")
    with atomic_dir(out, DRAFT_FILES, "--out folder") as stage:
        pair.draft.save_pretrained(stage)
        pair.tokenizer.save_pretrained(stage)


def profile_models(models: Sequence[tuple[str, str]], *, gamma: int = 4, batches: Sequence[int] = (1,),
                   contexts: Sequence[int] = (16, 64, 128, 256), prompt_tokens: Sequence[int] = (),
                   repeats: int = 15, warmup: int = 3, threads: int | None = None, device: str = "cpu",
                   dtype: str = "float32", progress: Callable[[dict], None] | None = None):
    """Median forward times of each (name, source) model over the grid (``osdsim.real.profile``):
    new tokens 1 .. γ+1 at every batch and context, and the prefills of ``prompt_tokens``-long
    prompts at context 0. Returns (timing rows, {name: the model's HF config dict})."""
    if gamma < 0 or repeats < 1 or warmup < 0:
        raise ValueError("--gamma and --warmup must be >= 0 and --repeats >= 1")
    if threads is not None:
        check_int(threads, "--threads", 1, 4096)
    check_device(device)
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
