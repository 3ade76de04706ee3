"""``osdsim distill``: offline distillation of a draft (the OSD paper's static baseline).

Generates continuations of held-out prompts from the chosen token source, trains the draft on
the target's distributions, and saves the distilled draft (with the target's tokenizer) to --out.
"""

from __future__ import annotations

import os

from osdsim.cli.common import Result, UsageError, add_parser, key_values


def register(subparsers) -> None:
    p = add_parser(subparsers, "distill", "offline distillation of the draft; saves the new draft")
    p.add_argument("--target", help="target model directory (default: osdsim's small target)")
    p.add_argument("--draft", help="draft model directory (default: osdsim's small draft)")
    p.add_argument("--draft-size", default="m", choices=["s", "m", "l"])
    p.add_argument("--source", default="teacher",
                   choices=["teacher", "student", "mixed_token", "mixed_request"])
    p.add_argument("--ratio", type=float, default=0.5, help="teacher share for mixed sources")
    p.add_argument("--domains", default="sql,math,code,prose")
    p.add_argument("--prompts-per-domain", type=int, default=64)
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--loss", default="fkl", choices=["fkl", "rkl", "jsd", "mix"])
    p.add_argument("--beta", type=float, default=0.5)
    p.add_argument("--out", required=True, help="directory for the distilled draft")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(handler=distill)


# Offline prompts use another seed than `osdsim run`'s stream, so the two never share prompts.
PROMPT_SEED_OFFSET = 1000


def distill(args):
    if os.path.exists(os.path.join(args.out, "config.json")):
        raise UsageError(f"{args.out} already holds a model; choose another --out")
    if args.prompts_per_domain < 1 or args.epochs < 1 or not 0 <= args.ratio <= 1:
        raise UsageError("--prompts-per-domain and --epochs must be >= 1 and --ratio in 0..1")
    from osdsim.real.env import import_torch

    import_torch(args.threads or None)
    from tqdm import tqdm

    from osdsim.real.offline import distill as run_distill
    from osdsim.real.offline import make_sequences
    from osdsim.real.pair import load_pair
    from osdsim.real.stream import build_requests, parse_schedule

    schedule = parse_schedule(",".join(f"{d.strip()}:{args.prompts_per_domain}"
                                       for d in args.domains.split(",")))
    pair = load_pair(args.target, args.draft, args.draft_size, args.device, args.dtype, args.seed,
                     progress=not args.no_progress)
    prompts = [r.prompt for r in build_requests(pair.tokenizer, schedule,
                                                args.seed + PROMPT_SEED_OFFSET)]
    seqs = make_sequences(pair.target, pair.draft, prompts, args.max_new_tokens, args.source,
                          args.seed, args.ratio)
    bar = tqdm(total=len(seqs) * args.epochs, desc="distill", disable=args.no_progress, leave=False)
    stats = run_distill(pair.target, pair.draft, seqs, args.loss, args.lr, args.epochs, args.seed,
                        args.beta, progress=lambda _: bar.update(1))
    bar.close()
    pair.draft.save_pretrained(args.out)
    pair.tokenizer.save_pretrained(args.out)
    payload = {"out": args.out, **pair.describe(), "source": args.source, "loss": args.loss,
               "sequences": len(seqs), "epochs": args.epochs, "lr": args.lr, **stats}
    return Result(payload, key_values(payload))
