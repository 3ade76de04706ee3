"""Draft kinds: what proposes the draft tokens, what one proposal costs, what memory it takes.

- ``model`` — a separate draft model (a card): γ sequential forwards of it, its own weights and
  KV cache (Leviathan et al. 2023; Chen et al. 2023).
- ``ngram`` — prompt lookup / n-gram matching (Saxena 2023, "Prompt Lookup Decoding"; vLLM's
  ngram proposer): no model, a CPU cost per step and per sequence; a sequence drafts only when
  its context has a match (``match_rate``), so acceptance depends on the workload.
- ``head`` — draft heads reading the target's hidden states: EAGLE / EAGLE-2 / EAGLE-3 (Li et al.
  2024, arXiv 2401.15077, 2406.16858, 2503.01840: one decoder layer + the LM head, run
  autoregressively), MTP modules (DeepSeek-V3, arXiv 2412.19437, Section 2.2: one transformer
  block + the shared head per extra token) and Medusa (Cai et al. 2024, arXiv 2401.10774: k
  residual blocks, each with its own LM head, all from one hidden state). A head's forward is
  priced as a model of its own shape; it shares the target's weights (embedding, head) where
  the method does, and its KV cache is one layer's.
- ``self`` — self-speculation / layer skip (LayerSkip, Elhoushi et al. 2024, arXiv 2404.16710;
  Draft & Verify, Zhang et al. 2024): the target's first k layers and its head draft; no extra
  weights or cache.

A drafter may propose a tree (:mod:`osdsim.cost.tree`) instead of a chain: a tree-expanding
head evaluates all nodes of one depth in one forward (``width`` tokens per sequence), Medusa
all of them at once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from osdsim.cost import tree as trees
from osdsim.specs import DTYPE_BYTES, ModelSpec

KINDS = ("model", "ngram", "head", "self")
HEAD_STYLES = ("eagle", "mtp", "medusa")


@dataclass(frozen=True)
class Drafter:
    """A proposer (see the module docstring); ``model`` is what one draft forward costs (None:
    no forward, an n-gram lookup)."""

    kind: str
    name: str
    model: ModelSpec | None = None
    parallel: bool = False  # medusa: every depth from one forward of all heads
    cpu_per_step_s: float = 0.0  # ngram: the lookup, once per step
    cpu_per_seq_s: float = 0.0  # ngram: per sequence per step
    match_rate: float = 1.0  # ngram: P(a sequence's context has a match this step)
    own_weight_params: float = 0.0  # parameters it adds to memory (model: all; head: its block(s))
    own_kv_layers: float = 0.0  # decoder layers of KV cache it adds per token (model: its layers)
    tree: tuple | None = None  # nodes of a draft tree (osdsim.cost.tree); None: a chain of γ

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"draft.kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if not 0.0 <= self.match_rate <= 1.0:
            raise ValueError(f"draft.match_rate must be in [0, 1], got {self.match_rate!r}")
        if self.cpu_per_step_s < 0 or self.cpu_per_seq_s < 0:
            raise ValueError("draft.cpu_per_step_us and draft.cpu_per_seq_us must be >= 0")
        if self.kind != "ngram" and self.model is None:
            raise ValueError(f"a {self.kind} drafter needs a model shape")

    def steps(self, gamma: int) -> list[int]:
        """Tokens per sequence of each sequential draft forward in a step with γ drafts (chain)
        or of this drafter's tree: [1]*γ for a chain, widths per depth for a tree, one forward
        of all nodes for Medusa."""
        if self.model is None:
            return []
        if self.tree is None:
            return [1] * int(gamma)
        w = trees.widths(self.tree)
        return [sum(w)] if self.parallel else w

    def verified(self, gamma: int) -> float:
        """Tokens per sequence the verify scores: the drafts and the bonus position; an n-gram
        lookup drafts only where its context matched (on average ``match_rate`` of the drafts)."""
        drafts = len(self.tree) if self.tree is not None else int(gamma)
        return drafts + 1 if self.match_rate == 1.0 else self.match_rate * drafts + 1.0

    def weight_bytes(self, dtype: str) -> float:
        return self.own_weight_params * DTYPE_BYTES[dtype]

    def kv_bytes_per_token(self, kv_bytes: float) -> float:
        if self.model is None or not self.own_kv_layers:
            return 0.0
        return 2.0 * self.own_kv_layers * self.model.kv_dim * kv_bytes


def model_drafter(card: ModelSpec, tree=None) -> Drafter:
    """A separate draft model."""
    return Drafter("model", card.name, card, own_weight_params=card.computed_params,
                   own_kv_layers=card.num_layers, tree=tree)


def ngram_drafter(cpu_per_step_s: float = 0.0, cpu_per_seq_s: float = 0.0, match_rate: float = 1.0,
                  name: str = "ngram", tree=None) -> Drafter:
    """Prompt lookup: no model (a chain of γ, or a tree of candidates where it matched)."""
    return Drafter("ngram", name, None, cpu_per_step_s=cpu_per_step_s, cpu_per_seq_s=cpu_per_seq_s,
                   match_rate=match_rate, tree=tree)


def self_drafter(target: ModelSpec, layers: int, tree=None) -> Drafter:
    """The target's first ``layers`` layers and its head (no extra weights or cache)."""
    if not 1 <= layers < target.num_layers:
        raise ValueError(f"draft.layers must be in 1..{target.num_layers - 1} for {target.name}, got {layers}")
    shape = replace(target, name=f"{target.name}[:{layers}]", num_layers=int(layers),
                    params=target.params * layers / target.num_layers)
    return Drafter("self", f"self-{layers}", shape, tree=tree)


def head_drafter(target: ModelSpec, style: str = "eagle", layers: int = 1, heads: int = 4,
                 vocab: int | None = None, tree=None) -> Drafter:
    """A draft head on ``target``: EAGLE / MTP (``layers`` decoder layers of the target's shape and
    an LM head of ``vocab`` rows, EAGLE-3's reduced draft vocabulary, default the target's) or
    Medusa (``heads`` residual blocks of hidden² with an LM head each)."""
    if style not in HEAD_STYLES:
        raise ValueError(f"draft.style must be one of {', '.join(HEAD_STYLES)}, got {style!r}")
    v = int(vocab or target.vocab_size)
    h = target.hidden_size
    if style == "medusa":
        # One residual block (hidden x hidden) per head and a head of its own each: priced as
        # ``heads`` MLP-only layers and heads x vocab output rows (a synthetic shape).
        shape = ModelSpec(name=f"medusa-{heads}", num_layers=heads, hidden_size=h, num_heads=1, num_kv_heads=1,
                          head_dim=1, intermediate_size=max(1, h // 2), vocab_size=heads * v, gated_mlp=False,
                          params=heads * (h * h + v * h), tied_embeddings=True, family="head")
        return Drafter("head", f"medusa-{heads}", shape, parallel=True, own_weight_params=heads * (h * h + v * h),
                       tree=tree)
    shape = replace(target, name=f"{style}-head", num_layers=int(layers), vocab_size=v,
                    params=layers * target.layer_params + v * h, tied_embeddings=True)
    own = layers * target.layer_params + (v * h if vocab else 0)  # EAGLE/MTP reuse the target's head
    return Drafter("head", f"{style}-{layers}", shape, own_weight_params=own, own_kv_layers=layers, tree=tree)
