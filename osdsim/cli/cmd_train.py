"""``osdsim train``: build osdsim's own small real models (tokenizer, target, three drafts).

Trained on this machine from the standard library's source and generated SQL/arithmetic text,
deterministic for a seed, cached in ``.cache/osdsim/`` (or $OSDSIM_CACHE) and reused.
"""

from __future__ import annotations

from osdsim.cli.common import Result, UsageError, add_parser, table

NAMES = ("target", "draft-s", "draft-m", "draft-l")


def register(subparsers) -> None:
    p = add_parser(subparsers, "train", "train osdsim's small local models (cached and reused)")
    p.add_argument("--models", default=",".join(NAMES),
                   help=f"comma-separated subset of {', '.join(NAMES)}")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(handler=train)


def train(args):
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = sorted(set(names) - set(NAMES))
    if unknown or not names:
        raise UsageError(f"unknown model(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(NAMES)}")
    from osdsim.real.env import import_torch

    import_torch(args.threads or None)
    from osdsim.real import small

    rows = []
    for name in names:
        before = (small.model_dir(small.PRESETS[name], args.seed) / "osdsim.json").exists()
        _, path, info = small.train_model(small.PRESETS[name], seed=args.seed,
                                          progress=not args.no_progress)
        rows.append({"name": name, "params": info["params"], "train_s": round(info["train_s"], 1),
                     "final_loss": round(info["final_loss"], 4), "path": str(path),
                     "cached": bool(before)})
    return Result({"models": rows, "seed": args.seed}, table(rows))
