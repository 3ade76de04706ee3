"""``osdsim cost``: the roofline of one forward pass."""

from __future__ import annotations

from osdsim.cli.common import (
    FRAMEWORK_CARD_HELP,
    HARDWARE_CARD_HELP,
    LLM_CARD_HELP,
    Result,
    UsageError,
    add_parser,
    key_values,
)


def register(subparsers) -> None:
    p = add_parser(subparsers, "cost", "roofline time of one forward pass",
                   "FLOPs, bytes, compute/memory time, the framework's host time (overhead_s) and "
                   "sync, and the bound that applies for one forward of --model on --hardware. "
                   "example: osdsim cost --model llama-3.1-70b --hardware h100-sxm --tp 4 --batch 8 "
                   "--context 1000 --framework vllm-v1")
    p.add_argument("--model", required=True, help=LLM_CARD_HELP)
    p.add_argument("--hardware", required=True, help=HARDWARE_CARD_HELP)
    p.add_argument("--batch", type=int, default=1, help="sequences in the forward (default 1)")
    p.add_argument("--tokens", type=int, default=1, help="new tokens per sequence (default 1: decode)")
    p.add_argument("--context", type=int, default=0, help="cached tokens per sequence before them")
    p.add_argument("--dtype", help="weight/KV dtype (default: the card's)")
    p.add_argument("--tp", type=int, default=1, help="tensor-parallel GPUs")
    p.add_argument("--framework", help=FRAMEWORK_CARD_HELP)
    p.set_defaults(handler=run)


def run(args) -> Result:
    from osdsim import cost
    from osdsim.specs import load_hardware, load_model

    for name, low, high in (("batch", 1, 10**6), ("tokens", 1, 10**7), ("tp", 1, 4096), ("context", 0, 10**8)):
        if not low <= getattr(args, name) <= high:
            raise UsageError(f"--{name} must be in {low}..{high}, got {getattr(args, name)}")
    model, hw = load_model(args.model), load_hardware(args.hardware)
    fc = cost.forward_cost(model, hw, args.batch, args.tokens, args.context, dtype=args.dtype, tp=args.tp,
                           framework=args.framework)
    payload = {
        "model": model.name, "hardware": hw.name, "framework": fc.framework, "batch": args.batch, "tokens": args.tokens,
        "context": args.context, "tp": args.tp, "dtype": args.dtype or hw.default_dtype,
        "time_s": float(fc.time_s), "compute_s": float(fc.compute_s), "memory_s": float(fc.memory_s),
        "overhead_s": float(fc.overhead_s), "sync_s": float(fc.sync_s), "comm_s": float(fc.comm_s), "flops": float(fc.flops),
        "bytes": float(fc.bytes), "bound": str(fc.bound), "arithmetic_intensity": float(fc.arithmetic_intensity),
        "ridge_point": hw.ridge_point,
    }
    return Result(payload, key_values(payload))
