"""``osdsim lengths``: count a real dataset's prompt and output lengths in a tokenizer's tokens,
for the simulator's ``workload.dataset`` (``osdsim.real.lengths``; cached and reused)."""

from __future__ import annotations

from osdsim.cli.common import Result, add_parser, add_progress, key_values, progress_on


def register(subparsers) -> None:
    p = add_parser(subparsers, "lengths", "length table of real conversations for workload.dataset")
    p.add_argument("--dataset", default="sharegpt", choices=["sharegpt"])
    p.add_argument("--tokenizer", required=True,
                   help="a pretrained name (smollm2-135m) or a model folder with tokenizer.json")
    p.add_argument("--limit", type=int, default=None, help="read only the first N conversations")
    add_progress(p)
    p.set_defaults(handler=lengths)


def lengths(args):
    from osdsim.real.lengths import build_table
    from osdsim.safe.numbers import check_int

    if args.limit is not None:
        check_int(args.limit, "--limit", 1, 10_000_000)
    payload = build_table(args.dataset, args.tokenizer, args.limit, progress=progress_on(args))
    return Result(payload, key_values(payload))
