"""Draft trees: which candidate tokens a step proposes, and how many of them the target accepts.

A tree is given the way Medusa and EAGLE give theirs ("medusa choices"): each node is the path
of candidate ranks from the root, ``(0,)`` the draft's top token at depth 1, ``(0, 1)`` the
second-ranked token after it, and so on; a chain of γ drafts is ``(0,), (0, 0), …``. The verify
scores every node in one forward (tree attention), so a step verifies ``len(nodes) + 1`` tokens
per sequence. Under greedy verification exactly one token is right at each position, so at
depth d the accepted path continues through the child whose rank is the right one, if the tree
has it. With ``q[d][r]`` = P(the right token is the draft's rank-r candidate at depth d, given
the path so far was right) — mutually exclusive over r — the chance of reaching a node is the
product of ``q`` along its path, and the expected accepted length is their sum over the nodes
(SpecInfer, Miao et al. 2024, arXiv 2305.09781; Medusa, Cai et al. 2024, arXiv 2401.10774,
Section 2.3; EAGLE-2, Li et al. 2024, arXiv 2406.16858). τ adds the bonus token.

Rank acceptance. ``q`` comes from measurements where they exist (top-k acceptance per depth).
Otherwise :func:`rank_acceptance` assumes each further candidate catches the right token with
the same chance as the first among those left: q_r = α(1 − α)^r — P(right token in the top k) =
1 − (1 − α)^k. That is an assumption, optimistic for weak drafts, and every prediction built on
it says so.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

Node = tuple[int, ...]
MAX_NODES = 4096  # a step verifies at most this many tree tokens per sequence


# The default trees of the reference implementations, as their repositories list them (paths of
# candidate ranks; the order there is irrelevant here):
# - EAGLE-1 ``mc_sim_7b_63`` in https://github.com/SafeAILab/EAGLE, eagle/model/choices.py
#   (25 nodes, depth 5; the tree Spec-Bench's EAGLE rows ran with);
# - Medusa-1 ``mc_sim_7b_63`` in https://github.com/FasterDecoding/Medusa,
#   medusa/model/medusa_choices.py (63 nodes, depth 4; Medusa's default for Vicuna-7B).
NAMED_TREES: dict[str, tuple[tuple[int, ...], ...]] = {
    "eagle-mc_sim_7b_63": (
        (0,), (1,), (2,), (3,), (0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (2, 0), (2, 1), (3, 0),
        (0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 1, 0), (0, 1, 1), (0, 2, 0), (0, 2, 1), (1, 0, 0),
        (0, 0, 0, 0), (0, 0, 0, 1), (0, 0, 0, 2), (0, 0, 0, 0, 0), (0, 0, 0, 0, 1)),
    "medusa-mc_sim_7b_63": (
        (0,), (0, 0), (1,), (0, 1), (2,), (0, 0, 0), (1, 0), (0, 2), (3,), (0, 3), (4,), (0, 4), (2, 0),
        (0, 5), (0, 0, 1), (5,), (0, 6), (6,), (0, 7), (0, 1, 0), (1, 1), (7,), (0, 8), (0, 0, 2),
        (3, 0), (0, 9), (8,), (9,), (1, 0, 0), (0, 2, 0), (1, 2), (0, 0, 3), (4, 0), (2, 1), (0, 0, 4),
        (0, 0, 5), (0, 0, 0, 0), (0, 1, 1), (0, 0, 6), (0, 3, 0), (5, 0), (1, 3), (0, 0, 7), (0, 0, 8),
        (0, 0, 9), (6, 0), (0, 4, 0), (1, 4), (7, 0), (0, 1, 2), (2, 0, 0), (3, 1), (2, 2), (8, 0),
        (0, 5, 0), (1, 5), (1, 0, 1), (0, 2, 1), (9, 0), (0, 6, 0), (0, 0, 0, 1), (1, 6), (0, 7, 0)),
}


def named(name: str) -> tuple[Node, ...]:
    """A reference implementation's default tree by name (:data:`NAMED_TREES`)."""
    if name not in NAMED_TREES:
        raise ValueError(f"unknown tree {name!r}; named trees: {', '.join(NAMED_TREES)}")
    return check(NAMED_TREES[name])


def chain(gamma: int) -> tuple[Node, ...]:
    """γ drafts in a row: the top candidate at every depth."""
    return tuple((0,) * d for d in range(1, int(gamma) + 1))


def full(width: int, depth: int) -> tuple[Node, ...]:
    """Every path of ranks < ``width`` down to ``depth`` (width^1 + … + width^depth nodes)."""
    if width < 1 or depth < 1:
        raise ValueError("tree width and depth must be >= 1")
    if sum(width ** d for d in range(1, depth + 1)) > MAX_NODES:
        raise ValueError(f"a full tree of width {width} and depth {depth} has more than {MAX_NODES} nodes")
    return tuple(p for d in range(1, depth + 1) for p in itertools.product(range(width), repeat=d))


def check(nodes: Sequence[Sequence[int]]) -> tuple[Node, ...]:
    """Nodes as tuples, sorted by depth; every node's parent present, ranks >= 0, no repeats."""
    out = tuple(sorted({tuple(int(r) for r in n) for n in nodes}, key=lambda n: (len(n), n)))
    if not out:
        raise ValueError("a tree needs at least one node")
    if len(out) != len(nodes):
        raise ValueError("a tree lists a node twice")
    if len(out) > MAX_NODES:
        raise ValueError(f"a tree has at most {MAX_NODES} nodes, got {len(out)}")
    present = set(out)
    for n in out:
        if not n or any(r < 0 for r in n):
            raise ValueError(f"tree node {list(n)} must be a non-empty path of ranks >= 0")
        if len(n) > 1 and n[:-1] not in present:
            raise ValueError(f"tree node {list(n)} has no parent {list(n[:-1])} in the tree")
    return out


def depth(nodes: Sequence[Node]) -> int:
    return max(len(n) for n in nodes)


def widths(nodes: Sequence[Node]) -> list[int]:
    """Nodes per depth (what each draft forward of a tree-expanding head evaluates)."""
    counts = [0] * depth(nodes)
    for n in nodes:
        counts[len(n) - 1] += 1
    return counts


def rank_acceptance(alpha, depth_: int, max_rank: int):
    """q[d][r] under the assumption of the module docstring: α_d (1 − α_d)^r; ``alpha`` is one α
    or one per depth (the last repeats)."""
    alphas = [float(alpha)] * depth_ if np.ndim(alpha) == 0 else [float(alpha[min(d, len(alpha) - 1)])
                                                                  for d in range(depth_)]
    return [[a * (1.0 - a) ** r for r in range(max_rank + 1)] for a in alphas]


def reach(nodes: Sequence[Node], q) -> dict[Node, float]:
    """P(the accepted path passes through each node)."""
    out: dict[Node, float] = {}
    for n in nodes:  # parents come first (sorted by depth)
        parent = out.get(n[:-1], 1.0)
        d, r = len(n) - 1, n[-1]
        out[n] = parent * (q[d][r] if r < len(q[d]) else 0.0)
    return out


def expected_accepted(nodes: Sequence[Node], q) -> float:
    """E[accepted drafts per step] = Σ over nodes of P(reached)."""
    return float(sum(reach(nodes, q).values()))


def length_distribution(nodes: Sequence[Node], q) -> np.ndarray:
    """P(accepted = k), k = 0..depth: P(≥ k) is the reach of depth-k nodes (one path at most)."""
    p = reach(nodes, q)
    at_least = np.zeros(depth(nodes) + 2)
    at_least[0] = 1.0
    for n, v in p.items():
        at_least[len(n)] += v
    return np.clip(at_least[:-1] - at_least[1:], 0.0, 1.0)


def rank_sum_counts(nodes: Sequence[Node]) -> np.ndarray:
    """counts[k, s]: nodes at depth k whose ranks sum to s. Under :func:`rank_acceptance` with one
    α, a node is reached with probability α^k (1 − α)^s, so P(accepted ≥ k) = α^k Σ_s counts[k, s]
    (1 − α)^s — :func:`geometric_length_cdf` without walking the tree."""
    total = max(sum(n) for n in nodes)
    counts = np.zeros((depth(nodes) + 1, total + 1))
    for n in nodes:
        counts[len(n), sum(n)] += 1.0
    return counts


def geometric_length_cdf(counts: np.ndarray, alpha: float) -> np.ndarray:
    """The CDF of the accepted length (k = 0..depth) for one α under the geometric rank assumption,
    from :func:`rank_sum_counts`; equal to cumsum(length_distribution(nodes, rank_acceptance(α, …)))."""
    a = float(alpha)
    depth_ = counts.shape[0] - 1
    at_least = np.power(a, np.arange(depth_ + 1)) * (counts @ np.power(1.0 - a, np.arange(counts.shape[1])))
    at_least[0] = 1.0
    dist = np.clip(at_least - np.append(at_least[1:], 0.0), 0.0, 1.0)
    return np.cumsum(dist)


def tau(nodes: Sequence[Node], q) -> float:
    """Expected tokens per step, the bonus token counted."""
    return 1.0 + expected_accepted(nodes, q)
