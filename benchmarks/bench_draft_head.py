"""What a draft's LM head costs: time per decoded token of SmolLM2-135M-shaped models (576 wide,
30-layer target) and of 1-, 2- and 4-layer drafts with the whole 49,152-token head or a reduced
8,193-row one (``osdsim.real.drafts``), plus the target's verify of 2-5 tokens.

    OMP_WAIT_POLICY=ACTIVE python benchmarks/bench_draft_head.py [--threads 2]

Random weights of the same shapes (time does not depend on the values), a KV cache of 96 tokens,
median of 40 timed forwards after 5 discarded. Needs torch and transformers; no model files.
"""

from __future__ import annotations

import argparse
import statistics
import time

SHAPE = dict(hidden_size=576, intermediate_size=1536, num_attention_heads=9, num_key_value_heads=3)


def per_token_ms(model, torch, new: int = 1, repeats: int = 40) -> float:
    from osdsim.real.speculative import forward, new_cache

    cache = new_cache(model)
    times = []
    with torch.no_grad():
        forward(model, list(range(100, 196)), cache, last_only=True)
        for _ in range(repeats + 5):
            t0 = time.perf_counter()
            forward(model, list(range(300, 300 + new)), cache, last_only=new == 1)
            times.append(time.perf_counter() - t0)
            cache.crop(-new)
    return 1000 * statistics.median(times[5:])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from osdsim.real.env import import_torch

    torch = import_torch(args.threads)
    from transformers import LlamaConfig, LlamaForCausalLM

    def model(layers: int, vocab: int):
        torch.manual_seed(0)
        return LlamaForCausalLM(LlamaConfig(vocab_size=vocab, num_hidden_layers=layers, tie_word_embeddings=True,
                                            max_position_embeddings=2048, **SHAPE)).eval()

    target = model(30, 49152)
    base = per_token_ms(target, torch)
    print(f"target (30 layers, 49,152-row head): {base:.1f} ms per token")
    for k in (2, 3, 4, 5):
        ms = per_token_ms(target, torch, new=k)
        print(f"  verify of {k} tokens: {ms:.1f} ms ({ms / base:.2f}x one token)")
    print("draft layers | full head ms | 8,193-row head ms | c full | c reduced")
    for layers in (1, 2, 4):
        full, small = per_token_ms(model(layers, 49152), torch), per_token_ms(model(layers, 8193), torch)
        print(f"{layers:12d} | {full:12.2f} | {small:17.2f} | {full / base:6.3f} | {small / base:9.3f}")


if __name__ == "__main__":
    main()
