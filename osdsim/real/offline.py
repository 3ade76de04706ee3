"""Offline distillation of the draft (the OSD paper's static baseline, Sec. 4.2 and Table 5).

Token sources for the training sequences: ``teacher`` (the target generates), ``student`` (the
draft generates), ``mixed_token`` (each next token comes from the teacher or the student with
probability ``ratio``), ``mixed_request`` (each whole sequence from one of them, ``ratio``). The
draft then learns the target's distribution at every generated position with a chosen loss.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import torch

from osdsim.real.drafts import target_for, training_logits
from osdsim.real.losses import distill_loss
from osdsim.real.speculative import forward, new_cache, target_generate

SOURCES = ("teacher", "student", "mixed_token", "mixed_request")


@torch.no_grad()
def _mixed_tokens(target, draft, prompt, max_new_tokens, ratio, generator) -> list[int]:
    tokens, caches = list(prompt), (new_cache(target), new_cache(draft))
    if len(prompt) > 1:
        for model, cache in zip((target, draft), caches):
            forward(model, prompt[:-1], cache, last_only=True)
    for _ in range(max_new_tokens):
        logits = [forward(m, tokens[-1:], c, last_only=True)[-1] for m, c in zip((target, draft), caches)]
        use_teacher = torch.rand(1, generator=generator).item() < ratio
        tokens.append(int(logits[0 if use_teacher else 1].argmax()))
    return tokens[len(prompt):]


def make_sequences(target, draft, prompts: Sequence[list[int]], max_new_tokens: int, source: str,
                   seed: int = 0, ratio: float = 0.5) -> list[tuple[list[int], int]]:
    """(ids, prompt_tokens) per prompt, continuations greedy from the chosen source."""
    if source not in SOURCES:
        raise ValueError(f"unknown token source {source!r} (choose from {', '.join(SOURCES)})")
    g = torch.Generator().manual_seed(seed)
    out = []
    for prompt in prompts:
        if source == "mixed_token":
            new = _mixed_tokens(target, draft, prompt, max_new_tokens, ratio, g)
        else:
            teacher = source == "teacher" or (
                source == "mixed_request" and torch.rand(1, generator=g).item() < ratio)
            new = target_generate(target if teacher else draft, prompt, max_new_tokens).tokens
        out.append((list(prompt) + new, len(prompt)))
    return out


def cached_sequences(pair, prompts, max_new_tokens: int, source: str, seed: int = 0, ratio: float = 0.5,
                     progress: bool = True) -> list[tuple[list[int], int]]:
    """:func:`make_sequences`, each cut after the target's first end-of-sequence token (a reply
    ends there; what a model writes after it is no answer to learn). The teacher's greedy
    continuations depend on the target and the prompts alone, so they are kept whole in the cache
    (``$OSDSIM_CACHE``) keyed by both and reused by every draft distilled on them. Other sources
    depend on the draft and are made afresh."""
    stop = set(pair.stop_tokens())
    if source != "teacher":
        seqs = make_sequences(pair.target, pair.draft, prompts, max_new_tokens, source, seed, ratio)
        return [until_stop(ids, n, stop) for ids, n in seqs]
    return [until_stop(ids, n, stop) for ids, n in _teacher_sequences(pair, prompts, max_new_tokens, progress)]


def until_stop(ids: list[int], prompt_tokens: int, stop: set[int]) -> tuple[list[int], int]:
    """``ids`` cut after the first of ``stop`` among its new tokens (kept whole when none)."""
    end = next((i + 1 for i in range(prompt_tokens, len(ids)) if ids[i] in stop), len(ids))
    return ids[:end], prompt_tokens


def _teacher_sequences(pair, prompts, max_new_tokens: int, progress: bool) -> list[tuple[list[int], int]]:
    import hashlib
    import json

    from osdsim.real.small import CACHE_DIR
    from osdsim.safe.atomic import write_text_atomic

    key = hashlib.sha256(json.dumps([pair.target_name, sum(p.numel() for p in pair.target.parameters()),
                                     max_new_tokens, prompts]).encode()).hexdigest()[:16]
    path = CACHE_DIR / f"teacher-sequences-{key}.json"
    if path.is_file():
        try:
            rows = json.loads(path.read_text())
            return [([int(t) for t in ids], int(n)) for ids, n in rows]
        except (ValueError, TypeError):
            pass  # a damaged cache file: make them again
    from tqdm import tqdm

    out = []
    for prompt in tqdm(prompts, desc="teacher continuations", disable=not progress, leave=False):
        out += make_sequences(pair.target, pair.draft, [prompt], max_new_tokens, "teacher")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(out), "sequence cache")
    return out


def distill(target, draft, sequences: list[tuple[list[int], int]], loss: str = "fkl",
            lr: float = 1e-3, epochs: int = 2, seed: int = 0, beta: float = 0.5,
            progress: Callable[[dict], None] | None = None) -> dict:
    """Train ``draft`` on ``sequences`` against the target's distributions (batch 1, AdamW)."""
    torch.manual_seed(seed)
    opt = torch.optim.AdamW([p for p in draft.parameters() if p.requires_grad], lr=lr)
    order = torch.Generator().manual_seed(seed)
    start, losses, tokens = time.perf_counter(), [], 0
    draft.train()
    for epoch in range(epochs):
        for i in torch.randperm(len(sequences), generator=order).tolist():
            ids, n = sequences[i]
            x = torch.tensor([ids[:-1]], device=next(draft.parameters()).device)
            with torch.no_grad():
                p = target(input_ids=x).logits[0, n - 1:]
            value = distill_loss(loss, target_for(draft, p), training_logits(draft, x)[0, n - 1:], beta)
            opt.zero_grad(set_to_none=True)
            value.backward()
            opt.step()
            losses.append(float(value.detach()))
            tokens += len(ids) - n
            if progress:
                progress({"epoch": epoch, "loss": losses[-1]})
    draft.eval()
    return {"steps": len(losses), "num_tokens": tokens, "first_loss": losses[0] if losses else None,
            "final_loss": sum(losses[-20:]) / max(1, len(losses[-20:])),
            "train_s": time.perf_counter() - start}


MAX_TURN_CHARS = 4000  # a longer turn is cut: many conversations, not a few long ones


def conversation_chunks(tokenizer, conversations, seq_len: int, max_tokens: int) -> list[list[int]]:
    """Conversations rendered with the target's chat template (what it reads and writes when
    serving), concatenated and cut into ``seq_len``-token chunks, ``max_tokens`` in all."""
    stream: list[int] = []
    for messages in conversations:
        cut = [{"role": m["role"], "content": m["content"][:MAX_TURN_CHARS]} for m in messages]
        ids = tokenizer.apply_chat_template(cut, tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "keys"):  # newer transformers return a BatchEncoding
            ids = ids["input_ids"]
        stream += [int(i) for i in ids]
        if len(stream) >= max_tokens:
            break
    stream = stream[:max_tokens]
    return [stream[i:i + seq_len] for i in range(0, len(stream) - seq_len + 1, seq_len)]


def distill_text(target, draft, chunks: list[list[int]], loss: str = "fkl", lr: float = 3e-4, batch: int = 4,
                 seed: int = 0, beta: float = 0.5, progress: Callable[[dict], None] | None = None) -> dict:
    """One pass over ``chunks`` in batches: the draft learns the target's distribution at every
    position (teacher forcing, no generation: hundreds of tokens a second on two CPU cores where
    generating the teacher's text makes ten). AdamW, warm-up then cosine decay to a tenth."""
    import math

    torch.manual_seed(seed)
    params = [p for p in draft.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr)
    steps = max(1, math.ceil(len(chunks) / batch))
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, 0.1 + 0.45 * (1 + math.cos(math.pi * min(s, steps) / steps))))
    order = torch.randperm(len(chunks), generator=torch.Generator().manual_seed(seed)).tolist()
    device = next(draft.parameters()).device
    start, losses = time.perf_counter(), []
    draft.train()
    for i in range(0, len(order), batch):
        x = torch.tensor([chunks[j] for j in order[i:i + batch]], device=device)
        with torch.no_grad():
            p = target_for(draft, target(input_ids=x).logits)
        q = training_logits(draft, x)
        value = distill_loss(loss, p.reshape(-1, p.shape[-1]), q.reshape(-1, q.shape[-1]), beta)
        opt.zero_grad(set_to_none=True)
        value.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        losses.append(float(value.detach()))
        if progress:
            progress({"loss": losses[-1]})
    draft.eval()
    return {"text_steps": len(losses), "text_tokens": len(order) * (len(chunks[0]) if chunks else 0),
            "text_first_loss": losses[0] if losses else None,
            "text_final_loss": sum(losses[-10:]) / max(1, len(losses[-10:])), "text_s": time.perf_counter() - start}
