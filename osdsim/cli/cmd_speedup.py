"""``osdsim speedup``: will speculation pay? One verdict line, then the numbers behind it.

Acceptance as users have it (exactly one): ``--alpha``; ``--tau`` (mean accepted length with the
bonus token, as Spec-Bench, EAGLE and vLLM V1 report it); ``--accepted``/``--drafted`` counts;
``--per-position`` rates (vLLM V1's "Per-position acceptance rate"); or ``--measured-speedup``,
which solves for the α that explains a measurement.
"""

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

EXAMPLE = ("example: osdsim speedup --tau 2.28 --gamma 5 --target vicuna-7b-v1.3 --draft vicuna-68m "
           "--hardware a100-80g --framework hf-eager")


def register(subparsers) -> None:
    p = add_parser(subparsers, "speedup", "will speculative decoding pay? (closed forms + cards)",
                   "Expected tokens per step (tau), the speedup over plain decoding and the best gamma. "
                   "With --target/--draft/--hardware (cards: names or YAML paths) 'speedup' is the "
                   "batch- and framework-aware prediction: each step priced by the roofline plus the "
                   "serving framework's costs (--framework), under the framework's gamma policy; "
                   "'closed_form_speedup' is Leviathan's tau/(gamma*c+1) with that c, which ignores "
                   "the verify's growth with batch and the framework's per-step costs. With --c alone "
                   "only the closed form is available. " + EXAMPLE)
    acc = p.add_argument_group("acceptance (give exactly one)")
    acc.add_argument("--alpha", type=float, help="per-token acceptance probability, 0..1")
    acc.add_argument("--tau", type=float, help="mean accepted length per step, bonus token included (1..gamma+1)")
    acc.add_argument("--accepted", type=float, help="accepted draft tokens (with --drafted)")
    acc.add_argument("--drafted", type=float, help="drafted tokens (with --accepted)")
    acc.add_argument("--rate-kind", choices=("prefix", "position"), default="prefix",
                     help="what --accepted counts: the accepted prefix (vLLM V1, llama.cpp, transformers; "
                          "default) or every accepted position (vLLM V0's 'Draft acceptance rate')")
    acc.add_argument("--per-position", help="comma-separated unconditional rates r_i = P(position i accepted)")
    acc.add_argument("--measured-speedup", type=float, help="solve for the alpha that explains this speedup")
    p.add_argument("--gamma", type=int, help="draft tokens per step (default: the best gamma, or the "
                                             "framework's start value under its heuristic policy)")
    p.add_argument("--policy", choices=("fixed", "hf-heuristic", "confidence", "adaptive"),
                   help="gamma policy (default: the framework's); confidence needs --pass-rate (or --trace "
                        "and --p-min), adaptive takes --threshold")
    pol = p.add_argument_group("gamma policy parameters")
    pol.add_argument("--pass-rate", type=float, help="confidence: P(a draft token's top probability >= p_min)")
    pol.add_argument("--alpha-passed", type=float,
                     help="confidence: acceptance of the drafts that pass (default: the acceptance given)")
    pol.add_argument("--trace", help="confidence: measure --pass-rate and --alpha-passed from this osdsim run "
                                     "trace's per-token draft confidences (with --p-min)")
    pol.add_argument("--p-min", type=float, help="confidence: the cut-off replayed on --trace")
    pol.add_argument("--threshold", type=float, default=0.3,
                     help="adaptive: stop drafting once P(all drafts so far accepted) < this (default 0.3)")
    p.add_argument("--c", type=float, help="draft forward time / target forward time (closed form only)")
    p.add_argument("--target", help="target " + LLM_CARD_HELP)
    p.add_argument("--draft", help="draft " + LLM_CARD_HELP + ", or ngram, eagle, mtp, medusa, self:K for "
                                   "a lookup, a draft head of the target or its first K layers")
    p.add_argument("--hardware", help=HARDWARE_CARD_HELP)
    p.add_argument("--framework", help=FRAMEWORK_CARD_HELP)
    p.add_argument("--batch", type=int, default=1, help="sequences per forward (default 1)")
    p.add_argument("--context", type=int, default=512, help="cached tokens per sequence (default 512)")
    p.add_argument("--dtype", help="weight dtype (default: the card's; e.g. fp8, int4, q4_k)")
    p.add_argument("--draft-dtype", help="the draft's weight dtype (default: --dtype)")
    p.add_argument("--tp", type=int, default=1, help="tensor-parallel GPUs for the target (default 1)")
    p.add_argument("--draft-tp", type=int, default=1, help="tensor-parallel GPUs for the draft (default 1)")
    p.add_argument("--max-gamma", type=int, default=16, help="search bound for the best gamma (default 16)")
    p.set_defaults(handler=run)


def _acceptance(args):
    """(alpha or per-position conditional rates, where it came from)."""
    from osdsim.cost import acceptance_inputs as ai
    from osdsim.cost import gamma_policy as gp

    given = [n for n in ("alpha", "tau", "accepted", "per_position", "measured_speedup")
             if getattr(args, n) is not None]
    if (args.accepted is None) != (args.drafted is None):
        raise UsageError("--accepted and --drafted go together")
    if len(given) != 1:
        raise UsageError("give exactly one of --alpha, --tau, --accepted/--drafted, --per-position and "
                         f"--measured-speedup (got {', '.join('--' + g.replace('_', '-') for g in given) or 'none'})")
    if args.alpha is not None:
        if not 0.0 <= args.alpha <= 1.0:
            raise UsageError(f"--alpha must be in [0, 1], got {args.alpha}")
        return gp.as_acceptance(alpha=args.alpha), "given"
    if args.per_position is not None:
        try:
            rates = [float(x) for x in args.per_position.split(",") if x.strip()]
        except ValueError:
            raise UsageError(f"--per-position must be comma-separated numbers, got {args.per_position!r}") from None
        return tuple(ai.conditional_rates(rates)), f"per-position rates {args.per_position}"
    gamma, policy = args.gamma, args.policy or "fixed"
    if gamma is None:
        raise UsageError(f"--{given[0].replace('_', '-')} needs --gamma (what it means depends on gamma)")
    if args.tau is not None:
        return gp.alpha_for_tokens(args.tau, policy, gamma), f"tau {args.tau:g} at gamma {gamma}"
    if args.accepted is not None:
        return (ai.alpha_from_counts(args.accepted, args.drafted, gamma, args.rate_kind),
                f"{args.accepted:g} of {args.drafted:g} drafts accepted ({args.rate_kind})")
    return None, "measured speedup"


def _checks(args) -> None:
    for name, low, high in (("batch", 1, 10**6), ("context", 0, 10**8), ("tp", 1, 4096), ("draft_tp", 1, 4096),
                            ("max_gamma", 1, 256)):
        value = getattr(args, name)
        if not low <= value <= high:
            raise UsageError(f"--{name.replace('_', '-')} must be in {low}..{high}, got {value}")
    if args.gamma is not None and not 0 <= args.gamma <= 256:
        raise UsageError(f"--gamma must be in 0..256, got {args.gamma}")
    if args.c is not None and not args.c >= 0:
        raise UsageError(f"--c must be >= 0, got {args.c}")


def _closed_form(args, acceptance, source: str) -> dict:
    from osdsim.cost import gamma_policy as gp

    if acceptance is None:
        if args.gamma is None:
            raise UsageError("--measured-speedup with --c needs --gamma")
        acceptance = _alpha_for_closed_form(args.measured_speedup, args.gamma, args.c)
        source = f"solved from the measured speedup {args.measured_speedup:g}"
    c = args.c

    def step(g: int) -> float:
        return g * c + 1.0

    best, rate = gp.best_fixed_gamma(acceptance, step, args.max_gamma)
    gamma = best if args.gamma is None else args.gamma
    tau = gp.expected_tokens(acceptance, gamma)
    return {"alpha": acceptance if isinstance(acceptance, float) else None, "alpha_source": source, "gamma": gamma,
            "tau": tau, "speedup": tau / step(gamma), "c": c, "c_source": "given", "optimal_gamma": best,
            "optimal_speedup": rate, "alpha_exceeds_c": isinstance(acceptance, float) and acceptance > c,
            "framework": "none (closed form: tau / (gamma c + 1))", "policy": "fixed"}


def _alpha_for_closed_form(measured: float, gamma: int, c: float) -> float:
    from osdsim.cost import gamma_policy as gp

    lo, hi = 0.0, 1.0
    top = gp.expected_tokens(1.0, gamma) / (gamma * c + 1.0)
    low = 1.0 / (gamma * c + 1.0)
    if not low <= measured <= top:
        raise UsageError(f"no alpha in [0, 1] explains a speedup of {measured:g} at gamma {gamma} and c {c:g}: "
                         f"the closed form gives {low:.3g} at alpha 0 and {top:.3g} at alpha 1")
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if gp.expected_tokens(mid, gamma) / (gamma * c + 1.0) < measured else (lo, mid)
    return 0.5 * (lo + hi)


def _with_cards(args, acceptance, source: str) -> dict:
    from osdsim.cost import gamma_policy as gp
    from osdsim.cost.framework import resolve
    from osdsim.cost.predict import Unreachable, predict, solve_alpha
    from osdsim.specs import load_hardware, load_model

    target, hw = load_model(args.target), load_hardware(args.hardware)
    draft = _draft(args.draft, target, load_model)
    fw = resolve(args.framework, hw)
    policy = args.policy or ("fixed" if fw.gamma_policy == "goodput" else fw.gamma_policy)
    params, measured = _policy_params(args, policy)
    kwargs = dict(framework=fw, batch=args.batch, gamma=args.gamma, policy=policy, context=args.context,
                  tp=args.tp, draft_tp=args.draft_tp, dtype=args.dtype, draft_dtype=args.draft_dtype,
                  max_gamma=args.max_gamma, **params)
    if acceptance is None:
        try:
            acceptance = solve_alpha(args.measured_speedup, target, draft, hw, **kwargs)
        except Unreachable as exc:
            raise UsageError(str(exc)) from None
        source = f"solved from the measured speedup {args.measured_speedup:g}"
    elif args.tau is not None and policy != "fixed":  # τ under the framework's own schedule
        acceptance = gp.alpha_for_tokens(args.tau, policy, args.gamma)
        source = f"tau {args.tau:g} under {policy} from gamma {args.gamma}"
    p = predict(acceptance, target, draft, hw, **kwargs)
    gamma = p.optimal_gamma if args.gamma is None and policy == "fixed" else (args.gamma or fw.gamma_start)
    closed = gp.expected_tokens(acceptance, gamma) / (gamma * p.c + 1.0)
    return {"alpha": acceptance if isinstance(acceptance, float) else None, "alpha_source": source,
            "gamma": gamma, "tau": p.tau, "speedup": p.speedup, "c": p.c, "c_source": "cards",
            "optimal_gamma": p.optimal_gamma, "optimal_speedup": p.optimal_speedup,
            "alpha_exceeds_c": isinstance(acceptance, float) and acceptance > p.c,
            "closed_form_speedup": closed, "framework": p.framework, "policy": p.policy, "mean_gamma": p.mean_gamma,
            **({"confidence_measured": measured} if measured else {}),
            "target": target.name, "draft": draft.name, "hardware": hw.name, "batch": args.batch,
            "context": args.context, "tp": args.tp, "draft_tp": args.draft_tp, "dtype": args.dtype or hw.default_dtype,
            "step_s": p.step_s, "plain_step_s": p.plain_step_s}


def _draft(name: str, target, load_model):
    """A draft card, or a draft kind by name (ngram, eagle, mtp, medusa, self:K) priced for ``target``."""
    from osdsim.sim.scenario_draft import build_drafter, parse_draft
    from osdsim.sim.scenario_methods import draft_shorthand

    mapping = draft_shorthand(name)
    if mapping is None:
        return load_model(name)
    return build_drafter(parse_draft(mapping), target, load_model)


def _policy_params(args, policy: str) -> tuple[dict, dict | None]:
    """The confidence and adaptive policies' parameters, given or measured from --trace, and
    what --trace measured (None when nothing was)."""
    if policy == "adaptive":
        if not 0.0 < args.threshold <= 1.0:
            raise UsageError(f"--threshold must be in (0, 1], got {args.threshold}")
        return {"threshold": args.threshold}, None
    if policy != "confidence":
        if args.pass_rate is not None or args.trace or args.p_min is not None:
            raise UsageError("--pass-rate, --trace and --p-min apply to --policy confidence")
        return {}, None
    if args.trace:
        if args.p_min is None or args.pass_rate is not None:
            raise UsageError("--trace measures the pass rate at --p-min: give --p-min, not --pass-rate")
        from osdsim.acceptance.confidence import trace_confidence_rates
        from osdsim.trace import read_trace

        measured = trace_confidence_rates(read_trace(args.trace).steps, args.p_min)
        return {"pass_rate": measured["pass_rate"], "alpha_passed": measured["alpha_passed"]}, measured
    if args.pass_rate is None or not 0.0 <= args.pass_rate <= 1.0:
        raise UsageError("--policy confidence needs --pass-rate in [0, 1] (or --trace and --p-min)")
    out = {"pass_rate": args.pass_rate}
    if args.alpha_passed is not None:
        if not 0.0 <= args.alpha_passed <= 1.0:
            raise UsageError(f"--alpha-passed must be in [0, 1], got {args.alpha_passed}")
        out["alpha_passed"] = args.alpha_passed
    return out, None


def verdict(payload: dict) -> str:
    """One line: does speculation pay, by how much, at which γ, and what was assumed."""
    s, g = payload["speedup"], payload["gamma"]
    word = "pays" if s > 1.0 else "loses"
    line = f"speculation {word} {s:.2f}x at gamma {g}"
    if payload["policy"] != "fixed":
        line += f" ({payload['policy']}, mean gamma {payload['mean_gamma']:.1f})"
    line += f"; best fixed gamma {payload['optimal_gamma']}: {payload['optimal_speedup']:.2f}x"
    where = f"{payload['target']} + {payload['draft']} on {payload['hardware']}, " if "target" in payload else ""
    alpha = payload["alpha"]
    acc = f"alpha {alpha:.3f}" if alpha is not None else "per-position acceptance"
    return f"{line}  [{where}framework {payload['framework']}, {acc} ({payload['alpha_source']})]"


def run(args) -> Result:
    _checks(args)
    cards = [args.target, args.draft, args.hardware]
    if args.c is not None and any(cards):
        raise UsageError("give either --c or --target/--draft/--hardware, not both")
    if args.c is None and not all(cards):
        raise UsageError("give --c, or all of --target, --draft and --hardware")
    acceptance, source = _acceptance(args)
    payload = _closed_form(args, acceptance, source) if args.c is not None else _with_cards(args, acceptance, source)
    line = verdict(payload)
    payload["verdict"] = line
    details = {k: v for k, v in payload.items() if k != "verdict"}
    return Result(payload, line + "\n" + key_values(details))
