"""``osdsim speedup``: Leviathan's closed forms for one point, with c given or from cards."""

from __future__ import annotations

from osdsim.cli.common import Result, UsageError, add_parser, key_values


def register(subparsers) -> None:
    p = add_parser(subparsers, "speedup", "closed-form speedup of speculative decoding",
                   "Expected tokens per step (tau), walltime improvement and the best gamma "
                   "(Leviathan et al. 2023). Give --c, or --target/--draft/--hardware to derive c "
                   "from the cards with the roofline (then the batch-aware roofline speedup, which "
                   "prices the verify over gamma+1 tokens, is reported too).")
    p.add_argument("--alpha", type=float, required=True, help="per-token acceptance rate, 0..1")
    p.add_argument("--gamma", type=int, required=True, help="draft tokens proposed per step (>= 0)")
    p.add_argument("--c", type=float, help="draft forward time / target forward time")
    p.add_argument("--target", help="target model card (models/llm)")
    p.add_argument("--draft", help="draft model card")
    p.add_argument("--hardware", help="hardware card (models/hardware)")
    p.add_argument("--batch", type=int, default=1, help="sequences per forward (default 1)")
    p.add_argument("--context", type=int, default=256, help="cached tokens per sequence (default 256)")
    p.add_argument("--dtype", help="weight/KV dtype (default: the card's)")
    p.add_argument("--tp", type=int, default=1, help="tensor-parallel GPUs for the target")
    p.add_argument("--max-gamma", type=int, default=32, help="search bound for the optimal gamma")
    p.set_defaults(handler=run)


def run(args) -> Result:
    from osdsim import cost

    if not 0.0 <= args.alpha <= 1.0:
        raise UsageError(f"--alpha must be in [0, 1], got {args.alpha}")
    if args.gamma < 0:
        raise UsageError(f"--gamma must be >= 0, got {args.gamma}")
    if args.batch < 1:
        raise UsageError(f"--batch must be >= 1, got {args.batch}")
    if args.context < 0:
        raise UsageError(f"--context must be >= 0, got {args.context}")
    cards = [args.target, args.draft, args.hardware]
    payload: dict = {"alpha": args.alpha, "gamma": args.gamma}
    if args.c is not None:
        if any(cards):
            raise UsageError("give either --c or --target/--draft/--hardware, not both")
        if args.c < 0:
            raise UsageError(f"--c must be >= 0, got {args.c}")
        c = args.c
        payload["c_source"] = "given"
    elif all(cards):
        from osdsim.specs import load_hardware, load_model

        target, draft, hw = load_model(args.target), load_model(args.draft), load_hardware(args.hardware)
        c = float(cost.c_from_cards(target, draft, hw, args.batch, args.context, args.dtype, args.tp))
        payload.update(target=target.name, draft=draft.name, hardware=hw.name, batch=args.batch,
                       context=args.context, tp=args.tp, c_source="roofline")
    else:
        raise UsageError("give --c, or all of --target, --draft and --hardware")
    best_gamma, best_speed = cost.optimal_gamma(args.alpha, c, args.max_gamma)
    payload.update(
        tau=cost.tau(args.alpha, args.gamma),
        speedup=cost.walltime_improvement(args.alpha, args.gamma, c),
        c=c,
        optimal_gamma=best_gamma,
        optimal_speedup=best_speed,
        alpha_exceeds_c=args.alpha > c,
    )
    if all(cards):
        payload["roofline_speedup"] = cost.spec_speedup(args.alpha, target, draft, hw, args.batch, args.gamma,
                                                        args.context, args.dtype, args.tp)
        g, s = cost.optimal_gamma_at_batch(args.alpha, target, draft, hw, args.batch, args.context,
                                           args.dtype, args.tp, max_gamma=min(args.max_gamma, 32))
        payload.update(roofline_optimal_gamma=g, roofline_optimal_speedup=s)
    return Result(payload, key_values(payload))
