"""Resolve a draft/target pair: local model directories, or osdsim's own small models."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from osdsim.real.loading import check_pair, load_model, load_tokenizer, num_params

DRAFT_SIZES = ("s", "m", "l")


@dataclass
class Pair:
    target: Any
    draft: Any
    tokenizer: Any
    target_name: str
    draft_name: str

    def describe(self) -> dict:
        """Names and sizes of the pair; ``draft`` is a model or an ``osdsim.real.proposers``
        proposer (n-gram lookup, self draft), which knows its own parameter count."""
        proposer = hasattr(self.draft, "propose")
        return {"target": self.target_name, "draft": self.draft_name,
                "target_params": num_params(self.target),
                "draft_params": int(self.draft.params if proposer else num_params(self.draft))}

    def stop_tokens(self) -> list[int]:
        """The target's end-of-sequence token ids (its generation config, else its config): where
        a serving engine ends a reply. Empty when the model names none."""
        for cfg in (getattr(self.target, "generation_config", None), getattr(self.target, "config", None)):
            eos = getattr(cfg, "eos_token_id", None)
            if eos is not None:
                ids = eos if isinstance(eos, (list, tuple)) else [eos]
                return sorted({int(i) for i in ids})
        return []

    def proposer(self) -> dict:
        """What drafts, for a run's meta line: {"kind": "model"} or the proposer's description."""
        return self.draft.describe() if hasattr(self.draft, "propose") else {"kind": "model"}


def small_model_dir(name: str, seed: int = 0, progress: bool = True) -> Path:
    """The directory of a built-in small model, training it first if it is not cached."""
    from osdsim.real import small

    if name not in small.PRESETS:
        raise ValueError(f"unknown small model {name!r} (known: {', '.join(small.PRESETS)})")
    _, path, _ = small.train_model(small.PRESETS[name], seed=seed, progress=progress)
    return path


def load_pair(target: str | None, draft: str | None, draft_size: str = "m", device: str = "cpu",
              dtype: str = "float32", seed: int = 0, progress: bool = True) -> Pair:
    """``target``/``draft``: model directories or pretrained names (``osdsim.real.pretrained``:
    smollm2-135m); None means the built-in small target, and the built-in draft of
    ``draft_size`` ("s", "m", "l")."""
    if draft is None and draft_size not in DRAFT_SIZES:
        raise ValueError(f"draft size must be one of {', '.join(DRAFT_SIZES)}, got {draft_size!r}")
    from osdsim.real.pretrained import is_pretrained, resolve

    tdir = resolve(target) if target else small_model_dir("target", seed, progress)
    if draft:
        ddir, dname = resolve(draft), draft
    elif is_pretrained(target):  # its generic drafts, built from it and distilled on text (cached)
        ddir = pretrained_draft_dir(target, draft_size, progress)
        dname = str(ddir)
    else:
        ddir, dname = small_model_dir(f"draft-{draft_size}", seed, progress), f"osdsim-small-draft-{draft_size}"
    pair = Pair(load_model(tdir, device, dtype), load_model(ddir, device, dtype),
                load_tokenizer(tdir), target or "osdsim-small-target", dname)
    check_pair(pair.target, pair.draft)
    return pair


def load_with_proposer(target: str | None, kind: str, *, self_layers: int | None = None, max_ngram: int = 3,
                       min_ngram: int = 1, device: str = "cpu", dtype: str = "float32", seed: int = 0,
                       progress: bool = True) -> Pair:
    """The target alone with a proposer that needs no draft model of its own (``kind`` "ngram"
    or "self", ``osdsim.real.proposers``): ``Pair.draft`` is the proposer, whose name and
    parameter count say what drafts (the self draft's parameters are the target's it runs)."""
    from osdsim.real.pretrained import resolve
    from osdsim.real.proposers import make_proposer

    tdir = resolve(target) if target else small_model_dir("target", seed, progress)
    model = load_model(tdir, device, dtype)
    proposer = make_proposer(kind, model, self_layers=self_layers, max_ngram=max_ngram, min_ngram=min_ngram)
    return Pair(model, proposer, load_tokenizer(tdir), target or "osdsim-small-target", proposer.name)


DRAFT_SPEC = "layers:"  # --draft layers:K builds a new draft from the target (osdsim.real.drafts)


def is_built_draft(spec: str | None) -> bool:
    return isinstance(spec, str) and spec.startswith(DRAFT_SPEC)


def build_pair(target: str | None, spec: str, draft_vocab: int, vocab_chars: int = 4_000_000,
               device: str = "cpu", dtype: str = "float32", seed: int = 0, progress: bool = True) -> Pair:
    """The target and a new draft of it: ``spec`` "layers:K" (its first K layers), with a head over
    the ``draft_vocab`` most frequent tokens of ``vocab_chars`` characters of ShareGPT."""
    from osdsim.real import datasets
    from osdsim.real.drafts import rank_vocabulary, truncated_draft
    from osdsim.real.pretrained import resolve

    try:
        layers = int(spec[len(DRAFT_SPEC):])
    except ValueError:
        raise ValueError(f"--draft {spec[:40]!r}: write layers:K with K a whole number of target layers") from None
    tdir = resolve(target) if target else small_model_dir("target", seed, progress)
    model, tokenizer = load_model(tdir, device, dtype), load_tokenizer(tdir)
    keep, coverage = rank_vocabulary(tokenizer, datasets.vocabulary_texts(vocab_chars), draft_vocab,
                                     tokenizer.all_special_ids)
    name = target or "osdsim-small-target"
    info = {"target": name, "vocab_corpus": f"ShareGPT V3, first {vocab_chars} characters, all turns",
            "vocab_coverage": round(coverage, 4)}
    draft = truncated_draft(model, layers, keep, info)
    return Pair(model, draft, tokenizer, name, f"{name}:layers{layers}-vocab{draft_vocab}")


# A pretrained target's generic drafts (``--draft-size`` s, m, l): its first 1, 2 or 4 layers with
# an 8,192-token head, distilled on 150k tokens of ShareGPT text (about 7 minutes each on the
# 2-core development VM), cached under .cache/osdsim/<target>-drafts/text-l<K>.
PRETRAINED_DRAFT_LAYERS = {"s": 1, "m": 2, "l": 4}
PRETRAINED_DRAFT_RECIPE = {"draft_vocab": 8192, "text_tokens": 150_000, "text_lr": 1e-3}


def pretrained_draft_dir(target: str, size: str, progress: bool = True) -> Path:
    """The folder of ``target``'s generic draft of ``size``, distilled first if it is not cached."""
    from osdsim.real.small import CACHE_DIR

    layers = PRETRAINED_DRAFT_LAYERS[size]
    folder = CACHE_DIR / f"{target.split('-')[0]}-drafts" / f"text-l{layers}"
    if not (folder / "config.json").is_file():
        from osdsim.real.model_workflows import distill_offline, save_draft

        built, _ = distill_offline(target=target, draft=f"{DRAFT_SPEC}{layers}", domains=[], progress=progress,
                                   **PRETRAINED_DRAFT_RECIPE)
        save_draft(built, str(folder))
    return folder
