"""Online speculative decoding (OSD; Liu et al., ICML 2024, arXiv 2310.07177, Algorithm 2).

Serve a stream of records with speculative decoding; keep the target's distributions at the
draft's mistakes (optionally all positions) in a buffer; every ``update_interval`` records update
the draft on the buffer with AdamW and a distillation loss, then clear the buffer. Every line of
the run goes to ``emit(kind, **fields)`` (a ``TraceWriter`` or any callable); nothing is written
to files here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field

import torch

from osdsim.real.drafts import target_for, training_logits
from osdsim.real.losses import distill_loss
from osdsim.real.speculative import Generation, speculative_generate, target_generate


@dataclass
class Sample:
    """One buffered record: ``ids`` (prompt + new tokens), target logits [new, V], and which new
    positions to train on."""

    ids: list[int]
    prompt_tokens: int
    target_logits: torch.Tensor
    train_mask: torch.Tensor


@dataclass
class OnlineDistiller:
    """The OSD draft updater. ``positions``: "mismatch" (the paper) or "all"."""

    draft: torch.nn.Module
    loss: str = "fkl"
    lr: float = 1e-4
    update_interval: int = 8
    positions: str = "mismatch"
    beta: float = 0.5
    buffer: list[Sample] = field(default_factory=list)
    updates: int = 0

    def __post_init__(self) -> None:
        if self.positions not in ("mismatch", "all"):
            raise ValueError(f"positions must be 'mismatch' or 'all', got {self.positions!r}")
        if self.update_interval < 1:
            raise ValueError("update_interval must be at least 1")
        self.optimizer = torch.optim.AdamW([p for p in self.draft.parameters() if p.requires_grad], lr=self.lr)

    def add(self, prompt: list[int], gen: Generation) -> None:
        mask = gen.mismatch if self.positions == "mismatch" else torch.ones_like(gen.mismatch)
        if mask.any():
            self.buffer.append(Sample(list(prompt) + gen.tokens, len(prompt),
                                      gen.target_logits, mask))

    def update(self) -> dict:
        """One AdamW step per buffered record (batch 1, as the paper's online runs); clears it."""
        start = time.perf_counter()
        self.draft.train()
        losses, num_tokens = [], 0
        device = next(self.draft.parameters()).device
        for s in self.buffer:
            x = torch.tensor([s.ids[:-1]], device=device)
            logits = training_logits(self.draft, x)[0, s.prompt_tokens - 1:]
            m = s.train_mask.to(device)
            loss = distill_loss(self.loss, target_for(self.draft, s.target_logits.to(device)[m]), logits[m], self.beta)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            losses.append(float(loss.detach()))
            num_tokens += int(m.sum())
        self.draft.eval()
        self.buffer.clear()
        self.updates += 1
        return {"update": self.updates, "num_tokens": num_tokens,
                "loss": sum(losses) / len(losses) if losses else 0.0,
                "update_s": time.perf_counter() - start}

    def state_dict(self) -> dict:
        return {"draft": self.draft.state_dict(), "optimizer": self.optimizer.state_dict(),
                "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.draft.load_state_dict(state["draft"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.updates = state["updates"]


@dataclass(frozen=True)
class Request:
    record: int
    domain: str
    prompt: list[int]


def record_generator(seed: int, record: int) -> torch.Generator:
    # One generator per record, derived from the run seed: a resumed run replays identically.
    return torch.Generator().manual_seed(seed * 1_000_003 + record)


def serve_stream(target, draft, requests: Iterable[Request], emit: Callable[..., None], *,
                 gamma: int, max_new_tokens: int, temperature: float = 0.0, seed: int = 0,
                 distiller: OnlineDistiller | None = None, baseline: bool = False,
                 on_update: Callable[[OnlineDistiller], None] | None = None,
                 progress: Callable[[dict], None] | None = None, stop_tokens: Collection[int] = ()) -> None:
    """Serve ``requests`` in order, each until ``max_new_tokens`` or one of ``stop_tokens``; emit
    ``step`` and ``record`` lines, and ``update`` lines when ``distiller`` is given. ``baseline`` also decodes each prompt with the target alone and emits
    a record with ``mode="baseline"``. ``on_update`` runs after each update line (checkpointing)."""
    since = 0
    for req in requests:
        version = distiller.updates if distiller else 0
        gen = speculative_generate(target, draft, req.prompt, max_new_tokens, gamma, temperature,
                                   record_generator(seed, req.record), collect=distiller is not None,
                                   stop_tokens=stop_tokens)
        for i, s in enumerate(gen.steps):
            emit("step", record=req.record, domain=req.domain, step=i, gamma=s.gamma, drafted=s.drafted,
                 accepted=s.accepted, emitted=s.emitted, draft_s=s.draft_s, verify_s=s.verify_s,
                 accepted_mask=s.accepted_mask, position=s.position, batch=1,
                 **({"beta": s.beta} if s.beta is not None else {}),
                 **({"confidence": s.confidence} if s.confidence else {}))
        row = {"record": req.record, "domain": req.domain, "alpha": _finite(gen.alpha),
               "num_tokens": len(gen.tokens), "latency_s": gen.latency_s,
               "draft_version": version, "prompt_tokens": len(req.prompt), "steps": len(gen.steps),
               "prefill_s": gen.prefill_s, "mode": "speculative"}
        if baseline:
            base = target_generate(target, req.prompt, max_new_tokens, temperature,
                                   record_generator(seed, req.record), stop_tokens)
            # The baseline line comes first: a resumed run drops it if its record is unfinished.
            emit("record", record=req.record, domain=req.domain, alpha=None,
                 num_tokens=len(base.tokens), latency_s=base.latency_s, draft_version=None,
                 prompt_tokens=len(req.prompt), steps=len(base.tokens), prefill_s=base.prefill_s,
                 mode="baseline")
            if temperature <= 0:
                row["matches_target"] = base.tokens == gen.tokens
        emit("record", **row)
        if progress:
            progress(row)
        if distiller is None:
            continue
        distiller.add(req.prompt, gen)
        since += 1
        if since >= distiller.update_interval:
            emit("update", after_record=req.record, **distiller.update())
            since = 0
            if on_update:
                on_update(distiller)


def _finite(x: float) -> float | None:
    return None if x != x else x
