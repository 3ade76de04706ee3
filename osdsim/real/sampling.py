"""Acceptance rules of speculative decoding, on plain tensors (no models).

Greedy: a draft token is accepted while it equals the target's argmax (exact match).
Sampling: Leviathan, Kalman, Matias 2023 (arXiv 2211.17192), Algorithm 1 — accept draft token x
with probability min(1, p(x) / q(x)); at the first rejection sample from norm(max(0, p - q));
if all gamma are accepted, sample the bonus token from p. Emitted tokens are then distributed
exactly as the target's samples (lossless).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Verdict:
    """The outcome of verifying gamma drafts: ``accepted`` of them, then ``next_token``."""

    accepted: int
    next_token: int
    accepted_mask: list[int]  # 1 per accepted position, then 0 at the first rejection (if any)
    beta: list[float] | None = None  # sum_x min(p, q) per tested position (sampling only)


def probs(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Softmax of ``logits / temperature`` in float32; shape kept ([..., V])."""
    return torch.softmax(logits.float() / temperature, dim=-1)


def greedy_verify(target_logits: torch.Tensor, drafts: list[int]) -> Verdict:
    """``target_logits``: [gamma + 1, V], row j predicts the token after drafts[:j]."""
    choice = target_logits.argmax(dim=-1).tolist()
    n = 0
    while n < len(drafts) and drafts[n] == choice[n]:
        n += 1
    mask = [1] * n + ([0] if n < len(drafts) else [])
    return Verdict(n, int(choice[n]), mask)


def rejection_verify(p: torch.Tensor, q: torch.Tensor, drafts: list[int],
                     generator: torch.Generator | None = None) -> Verdict:
    """``p``: [gamma + 1, V] target probabilities; ``q``: [gamma, V] draft probabilities of the
    drafted tokens' positions; ``drafts``: the gamma tokens sampled from ``q``."""
    gamma = len(drafts)
    uniform = torch.rand(gamma, generator=generator, device=p.device) if gamma else None
    beta = torch.minimum(p[:gamma], q).sum(dim=-1).tolist() if gamma else []
    mask: list[int] = []
    for j, x in enumerate(drafts):
        # Algorithm 1: accept x if r < p(x) / q(x), i.e. r * q(x) < p(x) (no division by zero).
        if uniform[j] * q[j, x] < p[j, x]:
            mask.append(1)
            continue
        mask.append(0)
        residual = torch.clamp(p[j] - q[j], min=0)  # norm(max(0, p - q))
        total = residual.sum()
        # total == 0 only if p == q, where rejection has probability 0; fall back to p.
        dist = residual / total if total > 0 else p[j]
        token = torch.multinomial(dist, 1, generator=generator).item()
        return Verdict(j, int(token), mask, beta[: j + 1])
    token = torch.multinomial(p[gamma], 1, generator=generator).item()  # the bonus token
    return Verdict(gamma, int(token), mask, beta)
