"""Draft sizes for SmolLM2-135M-Instruct: greedy acceptance and cost per draft token.

For each draft folder: α = how often the draft's top token equals the target's greedy token along
the target's own answers (teacher forcing on cached teacher continuations of held-out prompts; for
greedy speculative decoding this is exactly the chance a drafted token is accepted, since every
accepted prefix is the target's text), and the draft's and target's time per decoded token (median
of timed single-token forwards with a KV cache). Writes figures/smollm2_draft_sizes.csv and prints it.

    OMP_WAIT_POLICY=ACTIVE .venv/bin/python analysis/smollm2_sizes.py \
        .cache/osdsim/smollm2-drafts/text-l1 .cache/osdsim/smollm2-drafts/text-l2 .cache/osdsim/smollm2-drafts/text-l4

Needs the teacher continuations that ``osdsim distill`` caches (``analysis/smollm2_osd.sh`` makes
sql-q/math-q in the offline step; chat's 40 are generated here, ~3 minutes, and cached).
"""

from __future__ import annotations

import argparse
import statistics
import time

from _common import FIGURES  # noqa: F401  (also puts the repo on sys.path)

# held-out prompts (the offline step's seed): chat's are new, sql-q/math-q are the offline step's
# own (cached by it; held out for the text-distilled drafts measured here)
EVAL = {"chat": "chat:40", "sql-q,math-q": "sql-q:60,math-q:60"}


def per_token_ms(model, torch, repeats: int = 40) -> float:
    from osdsim.real.speculative import forward, new_cache

    cache = new_cache(model)
    times = []
    with torch.no_grad():
        forward(model, list(range(100, 196)), cache, last_only=True)
        for i in range(repeats):
            t0 = time.perf_counter()
            forward(model, [300 + i], cache, last_only=True)
            times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times[5:])


def agreement(draft, sequences, torch) -> float:
    hit = total = 0
    with torch.no_grad():
        for ids, n in sequences:
            pred = draft(input_ids=torch.tensor([ids[:-1]])).logits[0, n - 1:].argmax(-1)
            hit += int((pred == torch.tensor(ids[n:])).sum())
            total += len(ids) - n
    return hit / total


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("drafts", nargs="+")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    import pandas as pd

    from osdsim.real.env import import_torch

    torch = import_torch(args.threads)
    from osdsim.real.loading import load_model, num_params
    from osdsim.real.model_workflows import PROMPT_SEED_OFFSET
    from osdsim.real.offline import cached_sequences
    from osdsim.real.pair import Pair
    from osdsim.real.pretrained import model_dir
    from osdsim.real.stream import build_requests, parse_schedule

    target_dir = model_dir("smollm2-135m", progress=False)
    target = load_model(target_dir)
    from osdsim.real.loading import load_tokenizer

    tok = load_tokenizer(target_dir)
    pair = Pair(target, None, tok, "smollm2-135m", "")
    sequences = {}
    for domains, schedule in EVAL.items():
        requests = build_requests(tok, parse_schedule(schedule), PROMPT_SEED_OFFSET)
        made = cached_sequences(pair, [r.prompt for r in requests], 64, "teacher", progress=False)
        for domain in domains.split(","):
            sequences[domain] = [s for s, r in zip(made, requests) if r.domain == domain]
    target_ms = per_token_ms(target, torch)
    rows = []
    for path in args.drafts:
        draft = load_model(path)
        ms = per_token_ms(draft, torch)
        info = getattr(draft, "info", {})
        row = {"draft": path.rstrip("/").split("/")[-1], "layers": info.get("layers"),
               "params": num_params(draft), "head_rows": draft.lm.lm_head.out_features if hasattr(draft, "lm") else None,
               "draft_ms": round(ms, 2), "target_ms": round(target_ms, 2), "c": round(ms / target_ms, 3)}
        row.update({f"alpha_{d}": round(agreement(draft, s, torch), 3) for d, s in sequences.items()})
        rows.append(row)
        print(row, flush=True)
    frame = pd.DataFrame(rows)
    frame.to_csv(FIGURES / "smollm2_draft_sizes.csv", index=False)
    print(frame.to_string(index=False))


if __name__ == "__main__":
    main()
