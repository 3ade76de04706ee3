"""``osdsim train``: build osdsim's own small real models (tokenizer, target, three drafts).

Trained on this machine from the standard library's source and generated SQL/arithmetic text,
deterministic for a seed, cached in ``.cache/osdsim/`` (or $OSDSIM_CACHE) and reused
(``osdsim.real.model_workflows.train_small_models``).
"""

from __future__ import annotations

from osdsim.cli.common import Result, add_parser, add_progress, progress_on, table
from osdsim.real.model_workflows import TRAINABLE


def register(subparsers) -> None:
    p = add_parser(subparsers, "train", "train osdsim's small local models (cached and reused)")
    p.add_argument("--models", default=",".join(TRAINABLE),
                   help=f"comma-separated subset of {', '.join(TRAINABLE)}")
    p.add_argument("--target", help="a pretrained target (smollm2-135m): build its generic drafts instead, "
                                    "--models from s, m, l (its first 1, 2, 4 layers distilled on ShareGPT text, "
                                    "about 7 minutes each here)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    add_progress(p)
    p.set_defaults(handler=train)


def train(args):
    from osdsim.real.model_workflows import train_small_models

    names = [n.strip() for n in args.models.split(",") if n.strip()]
    if args.target is not None:
        from osdsim.real.model_workflows import train_pretrained_drafts

        sizes = ["s", "m", "l"] if args.models == ",".join(TRAINABLE) else names
        rows = train_pretrained_drafts(args.target, sizes, threads=args.threads, progress=progress_on(args))
        return Result({"models": rows, "target": args.target}, table(rows))
    rows = train_small_models(names, seed=args.seed, threads=args.threads, progress=progress_on(args))
    return Result({"models": rows, "seed": args.seed}, table(rows))
