"""osdsim's own small real models: a byte-level BPE tokenizer, a Llama-shaped target, and drafts
of three sizes, trained on this machine in minutes and cached by a hash of their configuration.

The target learns all four domains of ``corpus``; the drafts learn only ``code`` and ``prose``
(the "general" text a small pretrained draft has seen), so ``sql`` and ``math`` are new domains
for them, the distribution shift online distillation has to catch up with.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from osdsim.real import corpus

CACHE_DIR = Path(os.environ.get("OSDSIM_CACHE", ".cache/osdsim"))
VOCAB_SIZE = 8192
TEXT_CHARS = 1_500_000  # per domain, for the tokenizer and the training sets


@dataclass(frozen=True)
class SmallModel:
    """A Llama-shaped model preset and how to train it (plain next-token loss)."""

    name: str
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    tied: bool
    mixture: tuple[tuple[str, float], ...]  # domain weights of the training batches
    steps: int
    batch: int = 8
    seq_len: int = 128
    lr: float = 3e-3


GENERAL = (("code", 0.6), ("prose", 0.4))
ALL = (("code", 0.3), ("prose", 0.2), ("sql", 0.25), ("math", 0.25))
PRESETS = {
    # Sized for a 2-core CPU: target ~1.2 s/step, drafts 0.15-0.65 s/step at batch 8 (~15 min in all).
    "target": SmallModel("target", 320, 6, 5, 864, False, ALL, steps=600),
    "draft-s": SmallModel("draft-s", 64, 2, 2, 176, True, GENERAL, steps=300),
    "draft-m": SmallModel("draft-m", 160, 2, 4, 432, True, GENERAL, steps=300),
    "draft-l": SmallModel("draft-l", 256, 4, 4, 688, True, GENERAL, steps=300),
    # `osdsim demo` on a fresh machine: the same recipe at a size that trains in ~3 minutes here.
    "demo-target": SmallModel("demo-target", 256, 4, 4, 688, False, ALL, steps=300),
    "demo-draft": SmallModel("demo-draft", 64, 2, 2, 176, True, GENERAL, steps=200),
}


def llama_config(m: SmallModel, vocab_size: int = VOCAB_SIZE):
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=vocab_size, hidden_size=m.hidden_size,
                       intermediate_size=m.intermediate_size, num_hidden_layers=m.num_layers,
                       num_attention_heads=m.num_heads, num_key_value_heads=m.num_heads,
                       max_position_embeddings=1024, tie_word_embeddings=m.tied,
                       bos_token_id=0, eos_token_id=1, pad_token_id=1)


def _key(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:12]


def tokenizer_dir(seed: int = 0, cache_dir: Path = CACHE_DIR) -> Path:
    return cache_dir / f"tokenizer-{_key({'v': VOCAB_SIZE, 'chars': TEXT_CHARS, 'seed': seed})}"


def model_dir(m: SmallModel, seed: int = 0, cache_dir: Path = CACHE_DIR) -> Path:
    """Where preset ``m`` is (or will be) cached: a hash of its config, seed and tokenizer."""
    tok = tokenizer_dir(seed, cache_dir).name
    return cache_dir / f"{m.name}-{_key({'model': asdict(m), 'seed': seed, 'tok': tok})}"


def train_tokenizer(seed: int = 0, cache_dir: Path = CACHE_DIR):
    """A byte-level BPE tokenizer (VOCAB_SIZE) over all four domains; cached."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    path = tokenizer_dir(seed, cache_dir)
    if not (path / "tokenizer.json").exists():
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, special_tokens=["<s>", "</s>"],
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                      show_progress=False)
        texts = [corpus.training_text(d, TEXT_CHARS, seed) for d in corpus.DOMAINS]
        tok.train_from_iterator(texts, trainer)
        fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                       pad_token="</s>")
        tmp = path.with_suffix(".tmp")
        fast.save_pretrained(tmp)
        tmp.rename(path)
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path), path


def _token_arrays(tokenizer, domains, seed: int) -> dict[str, np.ndarray]:
    return {d: np.asarray(tokenizer(corpus.training_text(d, TEXT_CHARS, seed))["input_ids"],
                          dtype=np.int64) for d in domains}


def train_model(m: SmallModel, seed: int = 0, cache_dir: Path = CACHE_DIR, progress: bool = True):
    """Train preset ``m`` (or load it from the cache); returns (model, directory, info)."""
    from transformers import AutoModelForCausalLM, LlamaForCausalLM

    tokenizer, _ = train_tokenizer(seed, cache_dir)
    path = model_dir(m, seed, cache_dir)
    if (path / "osdsim.json").exists():
        info = json.loads((path / "osdsim.json").read_text())
        return AutoModelForCausalLM.from_pretrained(path).eval(), path, info
    torch.manual_seed(seed)
    model = LlamaForCausalLM(llama_config(m, len(tokenizer)))
    data = _token_arrays(tokenizer, [d for d, _ in m.mixture], seed)
    start = time.perf_counter()
    losses = _train(model, m, data, np.random.default_rng(seed), progress)
    info = {"name": m.name, "params": sum(p.numel() for p in model.parameters()),
            "train_s": time.perf_counter() - start, "final_loss": float(np.mean(losses[-20:])),
            "preset": asdict(m), "seed": seed}
    tmp = path.with_suffix(".tmp")
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / "osdsim.json").write_text(json.dumps(info, indent=2))
    tmp.rename(path)
    return model.eval(), path, info


def _batch(data, mixture, m: SmallModel, rng: np.random.Generator) -> torch.Tensor:
    names = [d for d, _ in mixture]
    weights = np.array([w for _, w in mixture]) / sum(w for _, w in mixture)
    rows = []
    for d in rng.choice(names, size=m.batch, p=weights):
        arr = data[d]
        i = int(rng.integers(0, len(arr) - m.seq_len - 1))
        rows.append(arr[i:i + m.seq_len + 1])
    return torch.from_numpy(np.stack(rows))


def _train(model, m: SmallModel, data, rng, progress: bool) -> list[float]:
    from tqdm import tqdm

    opt = torch.optim.AdamW(model.parameters(), lr=m.lr, weight_decay=0.01, betas=(0.9, 0.95))
    warm = max(1, m.steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, 0.5 * (
        1 + math.cos(math.pi * min(s, m.steps) / m.steps))))
    model.train()
    losses = []
    bar = tqdm(range(m.steps), desc=f"train {m.name}", disable=not progress, leave=False)
    for _ in bar:
        x = _batch(data, m.mixture, m, rng)
        loss = model(input_ids=x, labels=x).loss  # the model shifts labels itself
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
    model.eval()
    return losses
