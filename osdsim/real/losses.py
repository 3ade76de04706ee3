"""Distillation losses between the target's distribution p and the draft's q, per position.

All take logits [N, V] (``target`` for p, ``draft`` for q) and return the mean over N positions.
Forward KL KL(p||q) is mass-covering, reverse KL KL(q||p) mode-seeking (OSD paper, Sec. 4.2).
``jsd`` is the generalised Jensen-Shannon divergence with weight beta (Agarwal et al. 2024, GKD):
beta KL(p||m) + (1 - beta) KL(q||m), m = beta p + (1 - beta) q. ``mix`` is what the OSD reference
code calls "jsd": 0.9 forward KL + 0.1 reverse KL.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LOSSES = ("fkl", "rkl", "jsd", "mix")


def _kl(log_a: torch.Tensor, log_b: torch.Tensor) -> torch.Tensor:
    # KL(a||b) per position, from log-probabilities; 0 * log 0 counts as 0.
    return (log_a.exp() * (log_a - log_b)).nan_to_num(0.0).sum(-1)


def forward_kl(target: torch.Tensor, draft: torch.Tensor) -> torch.Tensor:
    return _kl(F.log_softmax(target.float(), -1), F.log_softmax(draft.float(), -1)).mean()


def reverse_kl(target: torch.Tensor, draft: torch.Tensor) -> torch.Tensor:
    return _kl(F.log_softmax(draft.float(), -1), F.log_softmax(target.float(), -1)).mean()


def jsd(target: torch.Tensor, draft: torch.Tensor, beta: float = 0.5) -> torch.Tensor:
    if not 0 < beta < 1:
        raise ValueError(f"jsd beta must be strictly between 0 and 1, got {beta}")
    log_p, log_q = F.log_softmax(target.float(), -1), F.log_softmax(draft.float(), -1)
    log_m = torch.logsumexp(torch.stack([log_p + math.log(beta), log_q + math.log(1 - beta)]), 0)
    return (beta * _kl(log_p, log_m) + (1 - beta) * _kl(log_q, log_m)).mean()


def mix(target: torch.Tensor, draft: torch.Tensor) -> torch.Tensor:
    return 0.9 * forward_kl(target, draft) + 0.1 * reverse_kl(target, draft)


def distill_loss(name: str, target: torch.Tensor, draft: torch.Tensor, beta: float = 0.5):
    """The loss called ``name`` (one of ``LOSSES``) of draft logits against target logits."""
    if name == "fkl":
        return forward_kl(target, draft)
    if name == "rkl":
        return reverse_kl(target, draft)
    if name == "jsd":
        return jsd(target, draft, beta)
    if name == "mix":
        return mix(target, draft)
    raise ValueError(f"unknown loss {name!r} (choose from {', '.join(LOSSES)})")
