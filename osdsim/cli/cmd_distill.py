"""``osdsim distill``: offline distillation of a draft (the OSD paper's static baseline).

Generates continuations of held-out prompts from the chosen token source, trains the draft on
the target's distributions (``osdsim.real.model_workflows.distill_offline``), and saves the distilled
draft (with the target's tokenizer) to --out.
"""

from __future__ import annotations

import os

from osdsim.cli.common import Result, UsageError, add_parser, add_progress, key_values, progress_on
from osdsim.safe.atomic import check_out_dir


def register(subparsers) -> None:
    p = add_parser(subparsers, "distill", "offline distillation of the draft; saves the new draft")
    p.add_argument("--target", help="target model directory (default: osdsim's small target)")
    p.add_argument("--draft", help="draft model directory (default: osdsim's small draft), or layers:K for a "
                   "new draft built from the target's first K layers with a reduced head")
    p.add_argument("--draft-size", default="m", choices=["s", "m", "l"])
    p.add_argument("--draft-vocab", type=int, default=8192,
                   help="with --draft layers:K: the head's vocabulary, the most frequent tokens of ShareGPT")
    p.add_argument("--source", default="teacher",
                   choices=["teacher", "student", "mixed_token", "mixed_request"])
    p.add_argument("--ratio", type=float, default=0.5, help="teacher share for mixed sources")
    p.add_argument("--domains", default="sql,math,code,prose",
                   help="domains whose prompts the target answers for the draft to learn from ('' for none)")
    p.add_argument("--text-tokens", type=int, default=0,
                   help="first distil on this many tokens of ShareGPT conversations (teacher forcing, fast)")
    p.add_argument("--text-lr", type=float, default=3e-4, help="learning rate of the --text-tokens pass")
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
    add_progress(p)
    p.set_defaults(handler=distill, writes=("out",))


def distill(args):
    from osdsim.real.model_workflows import distill_offline, save_draft

    if os.path.exists(os.path.join(args.out, "config.json")):
        raise UsageError(f"{args.out} already holds a model; choose another --out")
    check_out_dir(args.out, what="--out folder")  # a file, or a folder of other files: refused before training
    pair, summary = distill_offline(
        target=args.target, draft=args.draft, draft_size=args.draft_size, source=args.source, ratio=args.ratio,
        domains=args.domains.split(","), prompts_per_domain=args.prompts_per_domain,
        max_new_tokens=args.max_new_tokens, epochs=args.epochs, lr=args.lr, loss=args.loss, beta=args.beta,
        device=args.device, dtype=args.dtype, threads=args.threads, seed=args.seed,
        progress=progress_on(args), draft_vocab=args.draft_vocab, text_tokens=args.text_tokens,
        text_lr=args.text_lr)
    save_draft(pair, args.out)
    payload = {"out": args.out, **summary}
    return Result(payload, key_values(payload))
