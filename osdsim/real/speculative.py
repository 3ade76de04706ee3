"""Speculative decoding (batch 1) with KV caches, and plain target decoding.

The target's cache (and a draft model's, inside its proposer) holds every token except the last
emitted one (the "pending" token). A step asks the proposer for up to gamma drafts (a draft
model: one forward each; n-gram lookup: none), verifies them with one target forward over
[pending, d1..d_k], keeps the accepted prefix plus one target token, and crops the caches back
to the accepted length. Generation ends after ``max_new_tokens`` or at the first of
``stop_tokens`` (the target's end-of-sequence tokens, as serving engines stop; the stop token is
kept, what a step accepted after it is dropped). Timings use ``time.perf_counter`` around
synchronised calls (``env.clock``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import torch

from osdsim.real.cache import cache_kwarg, cache_length, crop_cache
from osdsim.real.env import clock, synchronizer
from osdsim.real.sampling import Verdict, greedy_verify, probs, rejection_verify


@dataclass
class Step:
    """One speculative step; times in seconds."""

    gamma: int
    drafted: int
    accepted: int
    emitted: int
    draft_s: float
    verify_s: float
    accepted_mask: list[int]
    position: int  # tokens in the context before this step (prompt included)
    beta: list[float] | None = None
    confidence: list[float] | None = None  # the draft's top probability at each drafted token


@dataclass
class Generation:
    """New tokens of one prompt and how they were made.

    ``target_logits`` ([num_tokens, V], float32, CPU) and ``mismatch`` ([num_tokens] bool) are
    filled when ``collect=True``: row i is the target's logits for new token i, and mismatch marks
    the positions where a draft token was rejected (the draft's mistakes).
    """

    prompt_tokens: int
    tokens: list[int]
    latency_s: float
    prefill_s: float
    steps: list[Step] = field(default_factory=list)
    token_s: list[float] = field(default_factory=list)  # plain decoding: time per token
    target_logits: torch.Tensor | None = None
    mismatch: torch.Tensor | None = None

    @property
    def alpha(self) -> float:
        """Per-position acceptance: accepted / tested positions (tested stops at a rejection).

        This is the maximum-likelihood alpha of the i.i.d. model behind tau(alpha, gamma).
        """
        accepted = sum(s.accepted for s in self.steps)
        tested = sum(len(s.accepted_mask) for s in self.steps)
        return accepted / tested if tested else float("nan")


def new_cache(model):
    from transformers import DynamicCache

    return DynamicCache(config=model.config)


def forward(model, ids: list[int], cache, last_only: bool = False) -> torch.Tensor:
    """Logits [len(ids), V] (or [1, V] with ``last_only``) for ``ids`` appended to ``cache``."""
    device = next(model.parameters()).device
    x = torch.tensor([ids], dtype=torch.long, device=device)
    out = model(input_ids=x, **{cache_kwarg(model): cache}, use_cache=True,
                logits_to_keep=1 if last_only else 0)
    return out.logits[0]


def pick_token(logits: torch.Tensor, temperature: float, generator) -> tuple[int, torch.Tensor | None]:
    if temperature <= 0:
        return int(logits.argmax()), None
    q = probs(logits, temperature)
    return int(torch.multinomial(q, 1, generator=generator).item()), q


@torch.no_grad()
def speculative_generate(target, draft, prompt: list[int], max_new_tokens: int, gamma: int,
                         temperature: float = 0.0, generator: torch.Generator | None = None,
                         collect: bool = False, stop_tokens: Collection[int] = ()) -> Generation:
    """Generate up to ``max_new_tokens`` after ``prompt`` (fewer when one of ``stop_tokens``
    comes) with ``draft`` proposing up to ``gamma`` per step. ``draft`` is a draft model or a
    proposer of ``osdsim.real.proposers`` (n-gram lookup, self-speculation).

    ``temperature`` 0 is greedy (output identical to the target's greedy decoding); above 0 it is
    Leviathan rejection sampling at that temperature (lossless; a deterministic proposal has a
    one-hot q).
    """
    from osdsim.real.proposers import ModelProposer, one_hot

    if len(prompt) < 1 or gamma < 0 or max_new_tokens < 1:
        raise ValueError("need a non-empty prompt, gamma >= 0 and max_new_tokens >= 1")
    proposer = draft if hasattr(draft, "propose") else ModelProposer(draft)
    proposer.begin()
    sync = synchronizer(next(target.parameters()).device)
    tokens = list(prompt)
    tcache = new_cache(target)
    start = clock(sync)
    if len(prompt) > 1:
        forward(target, prompt[:-1], tcache, last_only=True)
        proposer.prefill(prompt[:-1])
    prefill_s = clock(sync) - start
    steps, rows, mism = [], [], []
    while len(tokens) - len(prompt) < max_new_tokens:
        g = min(gamma, max_new_tokens - (len(tokens) - len(prompt)) - 1)
        t0 = clock(sync)
        drafts, qs, conf = proposer.propose(tokens, g, temperature, generator)
        t1 = clock(sync)
        logits = forward(target, (tokens + drafts)[cache_length(tcache):], tcache)
        if temperature <= 0:
            verdict = greedy_verify(logits, drafts)
        else:
            if any(q is None for q in qs):
                q = one_hot(drafts, logits.shape[-1], logits)
            else:
                q = torch.stack(qs) if qs else logits.new_zeros((0, logits.shape[-1]))
            verdict = rejection_verify(probs(logits, temperature), q, drafts, generator)
        t2 = clock(sync)
        step = _step(len(drafts), verdict, t1 - t0, t2 - t1, len(tokens), conf)
        new = drafts[: verdict.accepted] + [verdict.next_token]
        stop = next((i for i, t in enumerate(new) if t in stop_tokens), None)
        cut = stop is not None and stop < verdict.accepted  # an accepted draft ends the text
        if cut:
            new = new[: stop + 1]
            step.accepted = step.emitted = stop + 1
            step.accepted_mask = step.accepted_mask[: stop + 1]
        steps.append(step)
        if collect:
            rows.append(logits[: len(new)].float().cpu())
            mism += [False] * (len(new) - 1) + [not cut and verdict.accepted < len(drafts)]
        tokens += new
        if stop is not None:
            break
        crop_cache(tcache, len(tokens) - 1)
        proposer.keep(len(tokens) - 1)
    gen = Generation(len(prompt), tokens[len(prompt):], clock(sync) - start, prefill_s, steps)
    if collect:
        gen.target_logits, gen.mismatch = torch.cat(rows), torch.tensor(mism)
    return gen


def _step(g: int, v: Verdict, draft_s: float, verify_s: float, position: int,
          confidence: list[float] | None = None) -> Step:
    return Step(gamma=g, drafted=g, accepted=v.accepted, emitted=v.accepted + 1, draft_s=draft_s,
                verify_s=verify_s, accepted_mask=v.accepted_mask, position=position, beta=v.beta,
                confidence=confidence)


@torch.no_grad()
def target_generate(target, prompt: list[int], max_new_tokens: int, temperature: float = 0.0,
                    generator: torch.Generator | None = None, stop_tokens: Collection[int] = ()) -> Generation:
    """Plain decoding with the target alone (the baseline), one forward per new token, until
    ``max_new_tokens`` or one of ``stop_tokens``."""
    sync = synchronizer(next(target.parameters()).device)
    tokens = list(prompt)
    cache = new_cache(target)
    start = clock(sync)
    if len(prompt) > 1:
        forward(target, prompt[:-1], cache, last_only=True)
    prefill_s = clock(sync) - start
    token_s = []
    for _ in range(max_new_tokens):
        t0 = clock(sync)
        token, _ = pick_token(forward(target, tokens[-1:], cache, last_only=True)[-1], temperature,
                         generator)
        tokens.append(token)
        token_s.append(clock(sync) - t0)
        if token in stop_tokens:
            break
    return Generation(len(prompt), tokens[len(prompt):], clock(sync) - start, prefill_s,
                      token_s=token_s)
