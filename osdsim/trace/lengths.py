"""Prompt and output lengths drawn from a real dataset (``workload.dataset``).

A length table holds one (prompt_tokens, output_tokens) row per conversation, counted in a named
tokenizer's tokens. ``sharegpt`` tables are built by ``osdsim lengths`` (or the CLI's ``simulate``
on first use) from the packaged ShareGPT V3 conversations (``osdsim.real.lengths``) and cached
under ``$OSDSIM_CACHE`` (default ``.cache/osdsim``); any other value is a CSV path with those
two columns. The simulator only reads tables: it never tokenizes.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

DATASETS = ("sharegpt",)
MAX_ROWS = 10_000_000
MAX_TOKENS = 10_000_000
NAME = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


def table_path(dataset: str, tokenizer: str) -> Path:
    """Where the length table of ``dataset`` in ``tokenizer``'s tokens is cached."""
    if not NAME.match(tokenizer or ""):
        raise ValueError(f"workload.tokenizer must name a tokenizer (letters, digits, . _ -), got {tokenizer!r}")
    return Path(os.environ.get("OSDSIM_CACHE", ".cache/osdsim")) / "lengths" / f"{dataset}-{tokenizer}.csv"


@lru_cache(maxsize=8)
def _read(path: str, mtime: float) -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    try:
        frame = pd.read_csv(path, nrows=MAX_ROWS + 1)
    except (ValueError, OSError) as exc:
        raise ValueError(f"{path}: not a length table ({str(exc)[:120]})") from None
    missing = {"prompt_tokens", "output_tokens"} - set(frame.columns)
    if missing:
        raise ValueError(f"{path} lacks column(s) {', '.join(sorted(missing))}")
    if not 1 <= len(frame) <= MAX_ROWS:
        raise ValueError(f"{path}: {len(frame)} rows; a length table needs 1..{MAX_ROWS}")
    values = frame[["prompt_tokens", "output_tokens"]].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    bad = ~np.isfinite(values) | (values < 1) | (values > MAX_TOKENS) | (values != np.round(values))
    if bad.any():
        row = int(np.flatnonzero(bad.any(axis=1))[0])
        raise ValueError(f"{path}, line {row + 2}: token counts must be whole numbers in 1..{MAX_TOKENS}")
    return values[:, 0].astype(np.int64), values[:, 1].astype(np.int64)


def load_table(dataset: str, tokenizer: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(prompt_tokens, output_tokens) arrays of ``dataset`` (a name of :data:`DATASETS` with its
    ``tokenizer``, or a CSV path)."""
    if dataset in DATASETS:
        if tokenizer is None:
            raise ValueError(f"workload.dataset {dataset} needs workload.tokenizer (whose tokens count the lengths, "
                             "e.g. smollm2-135m or a model folder's name)")
        path = table_path(dataset, tokenizer)
        if not path.is_file():
            raise ValueError(f"workload.dataset {dataset} in {tokenizer} tokens has no length table yet: run "
                             f"`osdsim lengths --dataset {dataset} --tokenizer {tokenizer}` (needs the real extra)")
    else:
        path = Path(dataset)
        if not path.is_file():
            raise ValueError(f"workload.dataset must be one of {', '.join(DATASETS)} or a CSV of prompt_tokens, "
                             f"output_tokens; no such file {dataset}")
    return _read(str(path), path.stat().st_mtime)


def draw(rng: np.random.Generator, dataset: str, tokenizer: str | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` (prompt, output) pairs drawn with replacement, rows kept together."""
    prompt, output = load_table(dataset, tokenizer)
    rows = rng.integers(0, len(prompt), size=n)
    return prompt[rows], output[rows]
