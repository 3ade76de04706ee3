"""Who proposes the draft tokens of a real speculative step.

A proposer keeps whatever state it needs between steps (a KV cache, nothing) and answers
``propose(tokens, n, temperature, generator)`` with up to ``n`` draft tokens, the distribution
each was drawn from (``q`` for rejection sampling; one-hot for deterministic proposals) and the
draft's confidence in each (its top probability at that position, what llama.cpp's
``--draft-p-min`` and transformers' ``assistant_confidence_threshold`` compare against: llama.cpp
``common/speculative.cpp``, transformers ``generation/candidate_generator.py``). After the
verify the caller says how many tokens are final with ``keep(n)``; ``begin()`` starts a new
sequence.

- :class:`ModelProposer` — a separate draft model with its own KV cache (the classic pair).
- :class:`NgramProposer` — prompt lookup (Saxena 2023, https://github.com/apoorvumang/prompt-lookup-decoding;
  vLLM's ``ngram`` method, transformers' ``prompt_lookup_num_tokens``): find the most recent
  earlier occurrence of the context's last n tokens (n from ``max_ngram`` down to ``min_ngram``)
  and propose what followed it. No model, no forwards; a proposal is deterministic (q one-hot),
  so sampling accepts token x with probability p(x) and stays lossless.
- :class:`SelfProposer` — self-speculation / layer skip (LayerSkip, Elhoushi et al. 2024,
  arXiv 2404.16710; Draft & Verify, Zhang et al. 2023, arXiv 2309.08168): the target's first
  ``layers`` decoder layers, its final norm and its LM head, sharing the target's weights (no
  memory of its own beyond a shallow KV cache).
"""

from __future__ import annotations

import copy

import torch

from osdsim.real.cache import cache_length, crop_cache
from osdsim.real.sampling import probs
from osdsim.real.speculative import forward, new_cache, pick_token

PROPOSERS = ("model", "ngram", "self")
MAX_NGRAM_LIMIT = 32  # bounded: the lookup scans the context once per n


def _logits(model, ids: list[int], cache) -> torch.Tensor:
    return forward(model, ids, cache, last_only=True)[-1]


class ModelProposer:
    """A draft model drafting autoregressively, one forward per token, with its own KV cache."""

    kind = "model"

    def __init__(self, model):
        self.model = model
        self.cache = None

    def begin(self) -> None:
        """A new sequence: a fresh KV cache."""
        self.cache = new_cache(self.model)

    def prefill(self, ids: list[int]) -> None:
        if ids:
            _logits(self.model, ids, self.cache)

    def propose(self, tokens: list[int], n: int, temperature: float, generator):
        drafts, qs, conf = [], [], []
        for _ in range(n):
            seq = tokens + drafts
            logits = _logits(self.model, seq[cache_length(self.cache):], self.cache)
            token, q = pick_token(logits, temperature, generator)
            drafts.append(token)
            qs.append(q)
            # the draft's confidence: its top probability, from the q it sampled from when sampling
            top = float(q.max()) if q is not None else float(probs(logits, 1.0).max())
            conf.append(round(top, 5))
        return drafts, qs, conf

    def keep(self, n: int) -> None:
        crop_cache(self.cache, min(cache_length(self.cache), n))

    @property
    def params(self) -> int:
        """Parameters one draft forward runs."""
        return sum(p.numel() for p in self.model.parameters())

    def describe(self) -> dict:
        return {"kind": self.kind}


class SelfProposer(ModelProposer):
    """The target's first ``layers`` layers + norm + head as the draft (weights shared)."""

    kind = "self"

    def __init__(self, target, layers: int):
        self.layers, self.target_layers = int(layers), len(target.model.layers)
        super().__init__(shallow_model(target, self.layers))

    @property
    def name(self) -> str:
        return f"self:{self.layers}-of-{self.target_layers}-layers"

    def describe(self) -> dict:
        return {"kind": self.kind, "layers": self.layers}


def shallow_model(target, layers: int):
    """A causal LM that runs only the first ``layers`` decoder layers of ``target`` (a
    transformers model with ``model.layers``), then its final norm and LM head. Every module is
    the target's own (no copies of weights); the returned model's config says ``layers``
    layers, so its KV cache holds only those."""
    inner = getattr(target, "model", None)
    blocks = getattr(inner, "layers", None)
    if blocks is None or not hasattr(target, "lm_head"):
        raise ValueError("self-speculation needs a decoder-only transformers model with model.layers and lm_head "
                         f"(got {type(target).__name__})")
    total = len(blocks)
    if isinstance(layers, bool) or not 1 <= layers < total:
        raise ValueError(f"--self-layers must be in 1..{total - 1} for a target with {total} layers, got {layers!r}")
    shallow = copy.copy(target)  # a new module object whose submodule dicts are replaced below
    shallow._modules = dict(target._modules)
    body = copy.copy(inner)
    body._modules = dict(inner._modules)
    body._modules["layers"] = torch.nn.ModuleList(list(blocks)[:layers])
    shallow._modules["model"] = body
    cfg = copy.deepcopy(target.config)
    cfg.num_hidden_layers = layers
    if getattr(cfg, "layer_types", None):
        cfg.layer_types = list(cfg.layer_types)[:layers]
    shallow.config = body.config = cfg
    return shallow


class NgramProposer:
    """Prompt lookup: propose what followed the latest earlier match of the context's suffix."""

    kind = "ngram"
    params = 0  # no model

    def __init__(self, max_ngram: int = 3, min_ngram: int = 1):
        if not 1 <= min_ngram <= max_ngram <= MAX_NGRAM_LIMIT:
            raise ValueError(f"n-gram sizes must satisfy 1 <= --ngram-min <= --ngram-max <= {MAX_NGRAM_LIMIT}, "
                             f"got {min_ngram}..{max_ngram}")
        self.max_ngram, self.min_ngram = int(max_ngram), int(min_ngram)
        self.name = f"ngram:{self.min_ngram}-{self.max_ngram}"

    def begin(self) -> None:
        pass

    def prefill(self, ids: list[int]) -> None:
        pass

    def lookup(self, tokens: list[int], n: int) -> list[int]:
        """Up to ``n`` tokens that followed the most recent earlier occurrence of the longest
        matching suffix (``max_ngram`` .. ``min_ngram`` tokens); [] when nothing matches."""
        if n <= 0:
            return []
        length = len(tokens)
        for size in range(min(self.max_ngram, length - 1), self.min_ngram - 1, -1):
            suffix = tokens[length - size:]
            # Latest start first; the match must end before the suffix itself starts repeating it.
            for start in range(length - size - 1, -1, -1):
                if tokens[start:start + size] == suffix:
                    return tokens[start + size:start + size + n]
        return []

    def propose(self, tokens: list[int], n: int, temperature: float, generator):
        drafts = self.lookup(tokens, n)
        return drafts, [None] * len(drafts), None  # a lookup has no confidence

    def keep(self, n: int) -> None:
        pass

    def describe(self) -> dict:
        return {"kind": self.kind, "max_ngram": self.max_ngram, "min_ngram": self.min_ngram}


def one_hot(tokens: list[int], vocab: int, like: torch.Tensor) -> torch.Tensor:
    """[len(tokens), vocab] one-hot rows: the q of a deterministic proposal."""
    q = like.new_zeros((len(tokens), vocab), dtype=torch.float32)
    if tokens:
        q[torch.arange(len(tokens)), torch.tensor(tokens)] = 1.0
    return q


def make_proposer(kind: str, target, draft=None, *, self_layers: int | None = None, max_ngram: int = 3,
                  min_ngram: int = 1):
    """The proposer ``kind`` (one of :data:`PROPOSERS`) for ``target``; ``draft``: the model of
    ``kind="model"``."""
    if kind == "model":
        if draft is None:
            raise ValueError("the model proposer needs a draft model")
        return ModelProposer(draft)
    if kind == "ngram":
        return NgramProposer(max_ngram, min_ngram)
    if kind == "self":
        if self_layers is None:
            raise ValueError("the self proposer needs --self-layers (the target's first K layers draft)")
        return SelfProposer(target, self_layers)
    raise ValueError(f"proposer must be one of {', '.join(PROPOSERS)}, got {kind!r}")
