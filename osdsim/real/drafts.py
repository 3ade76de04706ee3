"""Draft models built from a pretrained target: its first K decoder layers, its embedding, and an
LM head over a frequency-ranked reduced vocabulary, then distilled (``osdsim distill``, online).

Why the reduced head. A draft sharing SmolLM2's 49,152-token vocabulary spends most of its time in
the head: on the 2-core development CPU one 576-wide layer with the full head takes 7.4 ms a token,
with an 8,192-row head 1.9 ms (``osdsim profile``; the target's own token is 51 ms). FR-Spec (Zhao
et al. 2025, "FR-Spec: Accelerating Large-Vocabulary Language Models via Frequency-Ranked
Speculative Sampling", arXiv 2502.14856) drafts over the most frequent tokens of a general corpus
and verifies with the full target, which keeps decoding lossless: the draft can only propose kept
tokens, and the target decides every token as before. EAGLE-3 (Li et al. 2025, arXiv 2503.01840)
keeps a reduced draft vocabulary the same way.

The head has one row per kept token and one "other" row for the rest of the vocabulary, so
distillation compares the draft with the target's distribution coarsened onto the same buckets
(:meth:`ReducedHeadLM.project`), an exact KL rather than a truncated one. The input embedding
covers the whole vocabulary (a lookup costs nothing per token), so prompts in any language reach
the draft intact; it stays the target's, frozen (as EAGLE's draft shares the target's embedding). Initialising from the target's first layers (LayerSkip, Elhoushi et al. 2024,
arXiv 2404.16710; the "self" proposer) lets distillation start from the target's own features.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from types import SimpleNamespace

import torch

DRAFT_JSON = "osdsim-draft.json"  # marks a reduced-head draft folder and says how it was built
WEIGHTS = "model.safetensors"
MAX_KEEP = 262_144  # bounds --draft-vocab


class ReducedHeadLM(torch.nn.Module):
    """A causal LM whose head scores ``keep_ids`` (target ids) plus one "other" bucket.

    ``forward`` answers in the target's vocabulary (-inf outside the kept ids), so proposers,
    verification and sampling treat it like any draft; training uses :meth:`reduced_logits`
    against :meth:`project` of the target's logits."""

    def __init__(self, lm, keep_ids: torch.Tensor, full_vocab: int, info: dict | None = None):
        super().__init__()
        if lm.lm_head.out_features != len(keep_ids) + 1:
            raise ValueError(f"head has {lm.lm_head.out_features} rows for {len(keep_ids)} kept tokens + 1")
        self.lm = lm
        lm.get_input_embeddings().weight.requires_grad_(False)  # the target's embedding, kept as it is
        self.register_buffer("keep_ids", keep_ids.long().clone())
        self.full_vocab = int(full_vocab)
        self.config = lm.config
        self.info = dict(info or {})

    @property
    def wrapped_lm(self):
        """The transformers model inside (``osdsim.real.cache.cache_kwarg`` asks it)."""
        return self.lm

    @property
    def vocab_size(self) -> int:
        return self.full_vocab

    def reduced_logits(self, input_ids: torch.Tensor, **kwargs) -> torch.Tensor:
        return self.lm(input_ids=input_ids, **kwargs).logits

    def forward(self, input_ids=None, **kwargs):
        r = self.reduced_logits(input_ids, **kwargs)
        full = r.new_full((*r.shape[:-1], self.full_vocab), float("-inf"))
        full[..., self.keep_ids] = r[..., :-1]
        return SimpleNamespace(logits=full)

    def project(self, target_logits: torch.Tensor) -> torch.Tensor:
        """Target logits [..., V] -> logits [..., K+1] of the same distribution on the draft's
        buckets: the kept tokens' logits, then the log-sum-exp of all the others."""
        t = target_logits.float()
        rest = t.clone()
        rest[..., self.keep_ids] = float("-inf")
        return torch.cat([t[..., self.keep_ids], torch.logsumexp(rest, -1, keepdim=True)], -1)

    def save_pretrained(self, out, **_ignored) -> None:
        from safetensors.torch import save_file

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        self.lm.config.to_json_file(out / "config.json")
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()}
        save_file(state, out / WEIGHTS)
        (out / DRAFT_JSON).write_text(json.dumps({"kind": "reduced-head", "keep": len(self.keep_ids),
                                                  "full_vocab": self.full_vocab, **self.info}, indent=1))


def is_reduced_dir(path) -> bool:
    return (Path(path) / DRAFT_JSON).is_file()


def load_reduced(path, device: str = "cpu", dtype=torch.float32) -> ReducedHeadLM:
    """A reduced-head draft saved by :meth:`ReducedHeadLM.save_pretrained` (safetensors only)."""
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModelForCausalLM

    path = Path(path)
    try:
        info = json.loads((path / DRAFT_JSON).read_text())
        keep, full = int(info["keep"]), int(info["full_vocab"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path / DRAFT_JSON}: not an osdsim draft description ({exc})") from None
    if not 1 <= keep <= min(full - 1, MAX_KEEP):
        raise ValueError(f"{path / DRAFT_JSON}: keep {keep} out of range for a {full}-token vocabulary")
    cfg = AutoConfig.from_pretrained(path, local_files_only=True)
    lm = AutoModelForCausalLM.from_config(cfg)
    lm.lm_head = torch.nn.Linear(cfg.hidden_size, keep + 1, bias=False)
    model = ReducedHeadLM(lm, torch.zeros(keep, dtype=torch.long), full,
                          {k: v for k, v in info.items() if k not in ("kind", "keep", "full_vocab")})
    state = load_file(str(path / WEIGHTS))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or [m for m in missing if "rotary" not in m]:
        raise ValueError(f"{path / WEIGHTS}: weights do not fit the draft ({(missing + unexpected)[:3]})")
    return model.to(device=device, dtype=dtype).eval()


def rank_vocabulary(tokenizer, texts: Iterable[str], keep: int, always: Iterable[int] = ()) -> tuple[list[int], float]:
    """The ``keep`` most frequent token ids of ``texts`` (``always`` first: special tokens), and the
    share of the texts' tokens they cover. Ties go to the lower id (deterministic)."""
    counts: Counter = Counter()
    for text in texts:
        counts.update(tokenizer(text, add_special_tokens=False)["input_ids"])
    vocab = len(tokenizer)
    if not 1 <= keep < vocab:
        raise ValueError(f"--draft-vocab must be in 1..{vocab - 1} for this {vocab}-token target, got {keep}")
    first = [int(i) for i in dict.fromkeys(always) if 0 <= int(i) < vocab]
    ranked = first + [i for i, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if i not in set(first)]
    if len(ranked) < keep:  # a small corpus: fill with the lowest unused ids
        seen = set(ranked)
        ranked += [i for i in range(vocab) if i not in seen][: keep - len(ranked)]
    chosen = ranked[:keep]
    total = sum(counts.values())
    covered = sum(counts[i] for i in chosen)
    return sorted(chosen), (covered / total if total else 0.0)


def truncated_draft(target, layers: int, keep_ids: list[int], info: dict | None = None) -> ReducedHeadLM:
    """A new draft: copies of ``target``'s embedding, first ``layers`` decoder layers and final
    norm, and a head over ``keep_ids`` (the target's head rows) + "other" (the mean of the rest)."""
    blocks = getattr(getattr(target, "model", None), "layers", None)
    if blocks is None or not hasattr(target, "lm_head"):
        raise ValueError(f"a truncated draft needs a decoder-only transformers model (got {type(target).__name__})")
    if isinstance(layers, bool) or not 1 <= layers < len(blocks):
        raise ValueError(f"draft layers must be in 1..{len(blocks) - 1} for a {len(blocks)}-layer target, got {layers!r}")
    cfg = copy.deepcopy(target.config)
    cfg.num_hidden_layers = layers
    cfg.tie_word_embeddings = False
    if getattr(cfg, "layer_types", None):
        cfg.layer_types = list(cfg.layer_types)[:layers]
    from transformers import AutoModelForCausalLM

    lm = AutoModelForCausalLM.from_config(cfg)
    keep = torch.tensor(sorted(set(keep_ids)), dtype=torch.long)
    with torch.no_grad():
        lm.model.embed_tokens.weight.copy_(target.model.embed_tokens.weight)
        for i in range(layers):
            lm.model.layers[i].load_state_dict(target.model.layers[i].state_dict())
        lm.model.norm.load_state_dict(target.model.norm.state_dict())
        head = target.lm_head.weight
        rest = torch.ones(head.shape[0], dtype=torch.bool)
        rest[keep] = False
        lm.lm_head = torch.nn.Linear(cfg.hidden_size, len(keep) + 1, bias=False)
        lm.lm_head.weight.copy_(torch.cat([head[keep], head[rest].mean(0, keepdim=True)]))
    meta = {"layers": layers, "target_layers": len(blocks), **(info or {})}
    return ReducedHeadLM(lm, keep, head.shape[0], meta).to(next(target.parameters()).dtype).eval()


def training_logits(draft, x: torch.Tensor) -> torch.Tensor:
    """The draft's logits in its own output space (what distillation trains)."""
    return draft.reduced_logits(x) if isinstance(draft, ReducedHeadLM) else draft(input_ids=x).logits


def target_for(draft, target_logits: torch.Tensor) -> torch.Tensor:
    """The target's logits in the draft's output space (coarsened for a reduced head)."""
    return draft.project(target_logits) if isinstance(draft, ReducedHeadLM) else target_logits
