"""Time forward passes of real models on the local device: the measurements calibration fits.

For every model and every (batch, context) of the grid, the KV cache is filled once with
``context`` tokens; then forwards of ``new_tokens`` tokens per sequence are timed and the cache
cropped back after each, ``warmup`` rounds discarded and the median of ``repeats`` kept. Rounds
interleave the token counts, so a burst of load from a neighbour on a shared CPU hits all of them
alike. At batch 1 the timed call is exactly what a speculative step does
(``osdsim.real.speculative.forward`` from a Python list of ids, then the argmax of the last
position as a Python int), so per-call Python overhead is measured too; device synchronised. Token counts above
``verify_tokens`` are prefills, timed with logits for the last position only, as real runs do.
OMP_WAIT_POLICY=PASSIVE is set before torch is imported (``osdsim.real.env.import_torch``:
spin-waiting stalls 2-thread torch when the cores are shared).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from osdsim.real.env import clock, import_torch, synchronizer

TIMING_COLUMNS = ("model", "batch", "new_tokens", "context", "seconds", "mean_s", "repeats", "spread_s",
                  "threads")


def load_for_timing(source: str, device: str = "cpu", dtype: str = "float32", seed: int = 0):
    """(model, HF config dict) from a local model directory, an HF ``config.json`` file, or the
    name of one of osdsim's small presets (``osdsim.real.small.PRESETS``, randomly initialised:
    timing does not need trained weights)."""
    torch = import_torch()
    path = Path(source)
    if path.is_dir():
        from osdsim.real.loading import load_model

        model = load_model(path, device=device, dtype=dtype)
        config = model.config.to_dict()
        if hasattr(model, "keep_ids"):  # a reduced-head draft: its head has keep + 1 rows
            config["osdsim_head_vocab"] = len(model.keep_ids) + 1
        return model, config
    from transformers import AutoConfig, AutoModelForCausalLM

    if path.is_file():
        try:
            config_dict = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot read HF config {path}: {exc}") from None
        config = AutoConfig.for_model(**config_dict)
    else:
        from osdsim.real.small import PRESETS, llama_config

        if source not in PRESETS:
            raise ValueError(f"{source!r} is not a model directory, a config.json or a small preset "
                             f"({', '.join(PRESETS)})")
        config = llama_config(PRESETS[source])
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config).to(device=device, dtype=getattr(torch, dtype))
    return model.eval(), model.config.to_dict()


def _forward_timer(model, batch: int, context: int, device: str):
    """A function timing one forward of k new tokens per sequence after ``context`` cached ones."""
    torch = import_torch()
    from osdsim.real.cache import cache_kwarg, crop_cache
    from osdsim.real.speculative import forward, new_cache

    sync = synchronizer(device)
    vocab = int(model.config.vocab_size)
    cache = new_cache(model)
    if context:
        ids = torch.arange(context, device=device).remainder(vocab).repeat(batch, 1)
        model(input_ids=ids, **{cache_kwarg(model): cache}, use_cache=True, logits_to_keep=1)

    def timed(k: int, last_only: bool) -> float:
        c = cache if context else new_cache(model)
        ids = [(context + i) % vocab for i in range(k)]
        t0 = clock(sync)
        if batch == 1:  # exactly the call a speculative step makes, Python list to picked token
            int(forward(model, ids, c, last_only=last_only)[-1].argmax())
        else:
            x = torch.tensor([ids] * batch, device=device)
            out = model(input_ids=x, **{cache_kwarg(model): c}, use_cache=True,
                        logits_to_keep=1 if last_only else 0)
            out.logits[:, -1].argmax(-1).tolist()
        t = clock(sync) - t0
        if context:
            crop_cache(cache, context)
        return t

    return timed


def profile_model(model, name: str, batches: Iterable[int], new_tokens: Iterable[int],
                  contexts: Iterable[int], *, repeats: int = 15, warmup: int = 3, verify_tokens: int = 8,
                  device: str = "cpu", progress: Callable[[dict], None] | None = None) -> list[dict[str, Any]]:
    """Median forward seconds of ``model`` over the grid, one dict per (batch, new_tokens, context)."""
    torch = import_torch()
    if repeats < 1 or warmup < 0:
        raise ValueError("repeats must be >= 1 and warmup >= 0")
    ks = sorted(set(int(k) for k in new_tokens))
    rows = []
    with torch.inference_mode():
        for b in sorted(set(int(x) for x in batches)):
            for ctx in sorted(set(int(x) for x in contexts)):
                timed = _forward_timer(model, b, ctx, device)
                samples: dict[int, list[float]] = {k: [] for k in ks}
                for rnd in range(warmup + repeats):
                    for k in ks:
                        t = timed(k, last_only=k > verify_tokens)
                        if rnd >= warmup:
                            samples[k].append(t)
                for k in ks:
                    s = sorted(samples[k])
                    row = {"model": name, "batch": b, "new_tokens": k, "context": ctx,
                           "seconds": statistics.median(s), "mean_s": statistics.fmean(s), "repeats": len(s),
                           "spread_s": s[int(0.9 * (len(s) - 1))] - s[int(0.1 * (len(s) - 1))],
                           "threads": torch.get_num_threads()}
                    rows.append(row)
                    if progress:
                        progress(row)
    return rows


def prefill_grid(prompt_tokens: Iterable[int]) -> list[int]:
    """New-token counts of the prefills of prompts of these lengths (the prompt minus its last token)."""
    return sorted({int(p) - 1 for p in prompt_tokens if int(p) > 1})
