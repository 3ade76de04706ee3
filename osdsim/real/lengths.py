"""Length tables of real conversations for the simulator's ``workload.dataset`` (``osdsim lengths``).

ShareGPT rows follow vLLM's benchmark sampler (``vllm/benchmarks/datasets.py``,
``ShareGPTDataset`` and ``is_valid_sequence``, https://github.com/vllm-project/vllm): a
conversation's first turn is the prompt and its second the output; pairs with fewer than 4
tokens on either side, a prompt over 1,024 tokens or more than 2,048 tokens in all are skipped.
Tokens are counted with the named tokenizer (a pretrained name such as ``smollm2-135m``, or a
folder holding ``tokenizer.json``), without special tokens or a chat template.
"""

from __future__ import annotations

from pathlib import Path

MIN_TOKENS, MAX_PROMPT, MAX_TOTAL = 4, 1024, 2048  # vLLM's ShareGPT filter (module docstring)


def _tokenizer(name: str):
    from tokenizers import Tokenizer

    from osdsim.real.pretrained import is_pretrained, model_dir

    folder = model_dir(name) if is_pretrained(name) else Path(name)
    path = folder / "tokenizer.json"
    if not path.is_file():
        raise ValueError(f"--tokenizer {name}: no tokenizer.json in {folder} (give a pretrained name or a model folder)")
    return Tokenizer.from_file(str(path))


def sharegpt_pairs(limit: int | None = None):
    """(first turn, second turn) texts of the packaged ShareGPT conversations, in file order."""
    from osdsim.real.datasets import sharegpt_conversations

    for conv in sharegpt_conversations(limit):
        turns = conv["conversations"]
        if len(turns) >= 2 and all(isinstance(t, dict) and isinstance(t.get("value"), str) for t in turns[:2]):
            yield turns[0]["value"], turns[1]["value"]


def build_table(dataset: str, tokenizer: str, limit: int | None = None, progress: bool = True) -> dict:
    """Count ``dataset``'s lengths in ``tokenizer``'s tokens and write the simulator's cached table
    (``osdsim.trace.lengths.table_path``); returns where it went and what it holds."""
    import numpy as np

    from osdsim.safe.atomic import write_text_atomic
    from osdsim.trace.lengths import DATASETS, table_path

    if dataset not in DATASETS:
        raise ValueError(f"--dataset must be one of {', '.join(DATASETS)}, got {dataset!r}")
    out = table_path(dataset, Path(tokenizer).name)
    tok = _tokenizer(tokenizer)
    pairs = list(sharegpt_pairs(limit))
    rows, batch = [], 512
    from tqdm import tqdm

    for i in tqdm(range(0, len(pairs), batch), desc="tokenizing", disable=not progress, leave=False):
        chunk = pairs[i:i + batch]
        prompts = tok.encode_batch([p for p, _ in chunk], add_special_tokens=False)
        outputs = tok.encode_batch([o for _, o in chunk], add_special_tokens=False)
        for p, o in zip(prompts, outputs):
            n, m = len(p.ids), len(o.ids)
            if n >= MIN_TOKENS and m >= MIN_TOKENS and n <= MAX_PROMPT and n + m <= MAX_TOTAL:
                rows.append((n, m))
    if not rows:
        raise ValueError(f"{dataset}: no conversation passed the length filter")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, "prompt_tokens,output_tokens\n" + "".join(f"{n},{m}\n" for n, m in rows), "length table")
    a = np.asarray(rows)
    return {"table": str(out), "conversations": len(pairs), "rows": len(rows),
            "prompt_mean": round(float(a[:, 0].mean()), 1), "prompt_p50": int(np.median(a[:, 0])),
            "output_mean": round(float(a[:, 1].mean()), 1), "output_p50": int(np.median(a[:, 1]))}


def ensure_table(dataset: str, tokenizer: str) -> None:
    """Build ``dataset``'s table in ``tokenizer``'s tokens unless it is cached (``simulate`` and
    the demo call this before a scenario with ``workload.dataset`` runs)."""
    from osdsim.trace.lengths import table_path

    if not table_path(dataset, Path(tokenizer).name).is_file():
        build_table(dataset, tokenizer, progress=False)
