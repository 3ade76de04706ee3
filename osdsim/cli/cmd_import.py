"""``osdsim import vllm|llamacpp LOG``: external speculative-decoding logs → a trace and α, τ, speedups."""

from __future__ import annotations

import math

from osdsim.cli.common import Result, UsageError, add_parser, key_values, table
from osdsim.safe.text import short


def _floats(text: str | None, name: str) -> list[float]:
    if not text:
        return []
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"{name} must be comma-separated numbers, got {short(text)}") from None
    if not all(math.isfinite(v) for v in values):
        raise UsageError(f"{name} must be finite numbers, got {short(text)}")
    return values


def register(subparsers) -> None:
    p = add_parser(subparsers, "import", "import vLLM or llama.cpp speculative-decoding logs",
                   "Read vLLM (V0 'Speculative metrics', V1 'SpecDecoding metrics', Prometheus "
                   "vllm:spec_decode_* counters) or llama.cpp (speculative example summary, server "
                   "per-request lines) logs; derive Leviathan's alpha, tau and, with cards or --c, "
                   "the predicted speedup and what-if answers. Unreadable lines are counted.")
    p.add_argument("kind", choices=("vllm", "llamacpp"), help="log format family")
    p.add_argument("log", help="log file (or Prometheus text scrape)")
    p.add_argument("--out", help="write the import as a trace (JSON Lines: meta + aggregate lines)")
    p.add_argument("--target", help="target model card, for c and speedups")
    p.add_argument("--draft", help="draft model card")
    p.add_argument("--hardware", help="hardware card")
    p.add_argument("--batch", type=int, default=1, help="batch at which c is priced (default 1)")
    p.add_argument("--context", type=int, default=512, help="context at which c is priced (default 512)")
    p.add_argument("--framework", help="serving-framework card (default: the one the log's format implies: "
                                        "vllm-v0, vllm-v1 or llama.cpp-gpu)")
    p.add_argument("--c", type=float, help="draft/target forward-time ratio instead of cards")
    p.add_argument("--what-if-gamma", help="comma-separated gammas to predict, e.g. 1,3,5,8")
    p.add_argument("--what-if-alpha", help="comma-separated alphas to predict, e.g. 0.8,0.9")
    p.set_defaults(handler=run, writes=("out",))


def _c(args) -> float | None:
    if args.c is not None:
        if not args.c >= 0:
            raise UsageError(f"--c must be >= 0, got {args.c}")
        return args.c
    cards = (args.target, args.draft, args.hardware)
    if not any(cards):
        return None
    if not all(cards):
        raise UsageError("--target, --draft and --hardware go together (or give --c)")
    from osdsim.specs import load_hardware, load_model
    from osdsim.validate.imported import c_for

    return c_for(load_model(args.target), load_model(args.draft), load_hardware(args.hardware),
                 batch=args.batch, context=args.context)


def run(args) -> Result:
    from osdsim.trace.importers import import_log, trace_lines
    from osdsim.validate.imported import analyse

    if not 1 <= args.context <= 10**8 or not 1 <= args.batch <= 10**6:
        raise UsageError("--context must be in 1..100000000 and --batch in 1..1000000")
    gammas = [int(g) for g in _floats(args.what_if_gamma, "--what-if-gamma")]
    if any(not 0 <= g <= 256 or g != int(g) for g in _floats(args.what_if_gamma, "--what-if-gamma")):
        raise UsageError("--what-if-gamma values must be integers in 0..256")
    alphas = _floats(args.what_if_alpha, "--what-if-alpha")
    if any(not 0 <= a <= 1 for a in alphas):
        raise UsageError("--what-if-alpha values must lie in [0, 1]")
    result = import_log(args.kind, args.log)
    from osdsim.trace import validate_line

    for i, row in enumerate(trace_lines(result)[1:]):  # the schema's value checks, also without --out
        validate_line({"type": "aggregate", **row}, f"{args.log}: aggregate row {i + 1}")
    analysis = analyse(result.aggregates, c=_c(args), gammas=gammas, alphas=alphas)
    payload = {"import": result.report(), **analysis}
    overall = analysis["overall"]
    if args.c is None and args.target and overall["alpha"] is not None and overall["gamma"]:
        from osdsim.specs import load_hardware, load_model
        from osdsim.validate.imported import implied_framework, roofline_what_if

        payload["roofline_prediction"] = roofline_what_if(
            overall["alpha"], overall["gamma"], load_model(args.target), load_model(args.draft),
            load_hardware(args.hardware), args.batch, args.context, gammas, alphas,
            framework=args.framework or implied_framework(result.aggregates))
    if args.target and args.draft and args.hardware:
        from osdsim.cost.measured import auto_cost
        from osdsim.specs import load_hardware, load_model
        from osdsim.validate.imported import implied_framework, throughput_check

        hw = load_hardware(args.hardware)
        framework = args.framework or implied_framework(result.aggregates)
        payload["framework"] = framework
        check = throughput_check(result.aggregates, auto_cost(hw, framework=framework), load_model(args.target),
                                 load_model(args.draft), args.context)
        if check is not None:
            payload["throughput_check"] = check
    if args.out:
        from osdsim.safe.atomic import atomic_file
        from osdsim.trace import TraceWriter

        meta, *rows = trace_lines(result, target=args.target, draft=args.draft, hardware=args.hardware)
        with atomic_file(args.out, "trace") as tmp, TraceWriter(tmp, mode="w") as writer:  # renamed when whole
            writer.write("meta", **meta)
            for row in rows:
                writer.write("aggregate", **row)
        payload["out"] = args.out
    return Result(payload, _text(payload))


def _text(payload: dict) -> str:
    rep, overall = payload["import"], payload["overall"]
    lines = [f"{rep['path']}: {rep['aggregates']} aggregate rows from {rep['parsed_lines']} lines "
             f"({rep['unreadable_lines']} unreadable, {rep['other_lines']} other); formats: "
             + ", ".join(f"{k} ×{v}" for k, v in rep["formats"].items())]
    for ex in rep["unreadable_examples"][:3]:
        lines.append(f"  unreadable line {ex['line']}: {ex['reason']}")
    shown = {k: overall[k] for k in ("drafted", "accepted", "num_drafts", "gamma", "source_acceptance_rate",
                                     "tau", "alpha") if overall.get(k) is not None}
    lines += ["", key_values(shown),
              "(source_acceptance_rate = accepted/drafted as the log defines it; alpha = Leviathan's "
              "per-token acceptance solved from tau(alpha, gamma) = mean acceptance length)"]
    if overall.get("alpha_per_position"):
        lines.append("alpha per position: " + ", ".join(f"{a:.3f}" for a in overall["alpha_per_position"] if a is not None))
    pred = payload.get("prediction")
    if pred:
        lines += ["", key_values({k: pred[k] for k in ("c", "speedup", "optimal_gamma", "optimal_speedup")})]
        if pred["gamma_what_if"]:
            lines += ["", table(pred["gamma_what_if"])]
        if pred["alpha_what_if"]:
            lines += ["", table(pred["alpha_what_if"])]
    roof = payload.get("roofline_prediction")
    if roof:
        lines += ["", f"roofline at batch {roof['batch']}, context {roof['context']} (verify priced over "
                  f"gamma+1 tokens per sequence): speedup {roof['speedup']:.3f}"]
        if roof["gamma_what_if"]:
            lines.append(table(roof["gamma_what_if"]))
    check = payload.get("throughput_check")
    if check:
        e = check["error"]
        lines += ["", f"generation throughput at each interval's logged batch (cost model, context "
                  f"{check['context']}, prefill share taken off): {e['points']} intervals, measured median "
                  f"{check['measured_median_tok_s']:.1f} tok/s, predicted {check['predicted_median_tok_s']:.1f}; "
                  f"median |error| {e['median_ape_pct']:.1f}%, p90 {e['p90_ape_pct']:.1f}%, bias "
                  f"{e['mean_signed_pct']:+.1f}%"]
    if payload.get("out"):
        lines.append(f"\nwrote {payload['out']}")
    return "\n".join(lines)
