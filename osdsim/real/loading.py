"""Load a draft/target pair of Hugging Face causal LMs from local directories (no hub)."""

from __future__ import annotations

from pathlib import Path

DTYPES = ("float32", "bfloat16", "float16")


def load_model(path: str | Path, device: str = "cpu", dtype: str = "float32"):
    """A causal LM from a local directory, in eval mode on ``device`` in ``dtype``."""
    import torch
    from transformers import AutoModelForCausalLM

    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    path = Path(path)
    if not (path / "config.json").exists():
        raise ValueError(f"{path} is not a model directory (no config.json)")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    from osdsim.real.drafts import is_reduced_dir, load_reduced

    if is_reduced_dir(path):  # a draft with a reduced head (osdsim.real.drafts)
        return load_reduced(path, device, getattr(torch, dtype))
    model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype),
                                                 local_files_only=True)
    return model.to(device).eval()


def load_tokenizer(path: str | Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(Path(path), local_files_only=True)


def num_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def vocab_size(model) -> int:
    """The vocabulary a model answers in (a reduced-head draft: the target's, not its head's)."""
    return int(getattr(model, "full_vocab", None) or model.config.vocab_size)


def check_pair(target, draft) -> None:
    """Speculative decoding needs one vocabulary: the draft's ids must mean the target's."""
    vt, vd = vocab_size(target), vocab_size(draft)
    if vt != vd:
        raise ValueError(f"target and draft vocabularies differ ({vt} vs {vd} tokens)")
