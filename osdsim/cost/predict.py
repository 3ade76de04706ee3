"""The batch- and framework-aware speedup of speculative decoding from cards, and its inverse.

``predict`` prices a step on the cards (roofline + the serving framework's costs,
:mod:`osdsim.cost.step`) and takes the expected tokens and seconds per step under the
framework's γ policy (:mod:`osdsim.cost.gamma_policy`): speedup = (tokens per second with
speculation) / (tokens per second of plain decoding at the same batch and context). Every
prediction carries the assumptions it made. ``solve_alpha`` finds the α that explains a measured
speedup, and says so when none in [0, 1] can.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from osdsim.cost import gamma_policy as gp
from osdsim.cost import tree as trees
from osdsim.cost.framework import resolve
from osdsim.cost.step import as_drafter, c_from_cards, spec_step_time
from osdsim.specs import HardwareSpec, ModelSpec

DEFAULT_CONTEXT = 512  # tokens of context a prediction prices at when none is given
_BISECT_STEPS = 60


class Unreachable(ValueError):
    """No α in [0, 1] explains a measured speedup on this set-up."""


@dataclass(frozen=True)
class Prediction:
    speedup: float  # tokens/s with speculation over plain decoding, same batch and context
    tau: float  # expected tokens per step under the policy (bonus token counted)
    c: float  # one draft forward / one target decode forward, both at this batch and context
    mean_gamma: float
    step_s: float  # expected seconds of a speculative step
    plain_step_s: float
    optimal_gamma: int  # best fixed γ for this acceptance on this set-up
    optimal_speedup: float
    framework: str
    hardware: str
    policy: str
    batch: int
    context: float

    def as_dict(self) -> dict:
        return asdict(self)


def _setup(target, draft, hw, framework, batch, context, tp, draft_tp, dtype, draft_dtype=None):
    """The framework, the drafter, one draft forward's seconds and a memoised price of a step
    with γ drafts (0: plain decoding; -1: c)."""
    fw = resolve(framework, hw)
    drafter = as_drafter(draft)
    memo: dict[int, float] = {-1: c_from_cards(target, drafter, hw, batch, context, dtype, tp, draft_tp, fw,
                                               draft_dtype)}

    def step_s(g: int) -> float:
        if g not in memo:
            memo[g] = spec_step_time(target, drafter if g else None, hw, batch, g, context, dtype, tp, draft_tp, fw,
                                     draft_dtype)
        return memo[g]

    forward_s = memo[-1] * step_s(0) if drafter.model is not None else 0.0  # ≈ one draft forward
    return fw, step_s, drafter, forward_s


def predict(acceptance, target: ModelSpec, draft, hw: HardwareSpec, *, framework=None,
            batch: int = 1, gamma: int | None = None, policy: str | None = None,
            context: float = DEFAULT_CONTEXT, tp: int = 1, draft_tp: int = 1, dtype: str | None = None,
            draft_dtype: str | None = None, max_gamma: int = 16, tree_q=None, **policy_params) -> Prediction:
    """The speedup of ``draft`` (a card, or a :class:`~osdsim.cost.drafts.Drafter`: model, n-gram,
    head, self, chain or tree) speculating for ``target`` on ``hw``.

    ``acceptance``: α or conditional per-position rates (:func:`gamma_policy.as_acceptance`).
    ``policy`` defaults to the framework's (transformers: hf-heuristic); ``gamma`` is the fixed
    γ, the heuristic's start, or the confidence and adaptive policies' most drafts (default: the
    framework's ``gamma_start``); a fixed policy with no ``gamma`` uses the best γ. A tree's
    accepted length uses ``tree_q`` (per-depth rank acceptance, :mod:`osdsim.cost.tree`), else
    the independent-candidates assumption. ``policy_params``: ``pass_rate``, ``alpha_passed``
    (confidence), ``threshold`` (adaptive).
    """
    setup = _setup(target, draft, hw, framework, batch, context, tp, draft_tp, dtype, draft_dtype)
    return _predict(acceptance, setup, hw.name, batch, gamma, policy, context, max_gamma, tree_q, policy_params)


def _predict(acceptance, setup, hardware: str, batch, gamma, policy, context, max_gamma, tree_q=None,
             policy_params=None) -> Prediction:
    fw, step_s, drafter, forward_s = setup
    acceptance = gp.as_acceptance(rates=acceptance) if isinstance(acceptance, (list, tuple)) \
        else gp.as_acceptance(alpha=acceptance)
    plain = step_s(0)
    match = drafter.match_rate  # 1 for everything but an n-gram lookup

    def tokens_of(t: float) -> float:  # an n-gram lookup drafts only when its context matched
        return match * t + (1.0 - match)

    if drafter.tree is not None:
        nodes = drafter.tree
        q = tree_q or trees.rank_acceptance(acceptance if isinstance(acceptance, float) else list(acceptance),
                                            trees.depth(nodes), max(n[-1] for n in nodes))
        tokens, seconds = tokens_of(trees.tau(nodes, q)), step_s(1)
        return Prediction(tokens / seconds * plain, tokens, step_s(-1), float(len(nodes)), seconds, plain,
                          trees.depth(nodes), tokens / seconds * plain, fw.name, hardware,
                          f"tree of {len(nodes)} nodes, depth {trees.depth(nodes)}"
                          + ("" if tree_q else " (rank acceptance assumed: 1 - (1 - alpha)^k in the top k)"),
                          int(batch), float(context))
    policy = policy or fw.gamma_policy
    if policy == "goodput":
        policy, gamma = "fixed", None
    rates = [tokens_of(gp.expected_tokens(acceptance, g)) / step_s(g) for g in range(max_gamma + 1)]
    best = int(max(range(len(rates)), key=rates.__getitem__))
    if gamma is None:
        gamma = best if policy == "fixed" else fw.gamma_start
    tokens, seconds, mean_gamma = gp.policy_rate(acceptance, step_s, policy, int(gamma),
                                                 draft_forward_s=forward_s, **(policy_params or {}))
    tokens = tokens_of(tokens)
    label = policy if policy == "fixed" else f"{policy} from {gamma}"
    if drafter.kind == "ngram":
        label += f", match rate {match:g}"
    return Prediction(
        speedup=tokens / seconds * plain, tau=tokens, c=step_s(-1), mean_gamma=mean_gamma,
        step_s=seconds, plain_step_s=plain, optimal_gamma=best, optimal_speedup=rates[best] * plain,
        framework=fw.name, hardware=hardware, policy=label, batch=int(batch), context=float(context))


def solve_alpha(measured_speedup: float, target: ModelSpec, draft: ModelSpec, hw: HardwareSpec,
                **kwargs) -> float:
    """The α whose :func:`predict` speedup equals ``measured_speedup`` (kwargs as ``predict``);
    :class:`Unreachable` when even α = 0 is faster or α = 1 is slower than measured."""
    fixed = {k: kwargs.pop(k) for k in ("batch", "gamma", "policy", "context", "max_gamma", "tree_q") if k in kwargs}
    setup = _setup(target, draft, hw, kwargs.pop("framework", None), fixed.get("batch", 1),
                   fixed.get("context", DEFAULT_CONTEXT), kwargs.pop("tp", 1), kwargs.pop("draft_tp", 1),
                   kwargs.pop("dtype", None), kwargs.pop("draft_dtype", None))
    params = {k: kwargs.pop(k) for k in ("pass_rate", "alpha_passed", "threshold") if k in kwargs}
    if kwargs:
        raise TypeError(f"solve_alpha got unexpected arguments {sorted(kwargs)}")

    def speed(a: float) -> float:
        return _predict(a, setup, hw.name, fixed.get("batch", 1), fixed.get("gamma"), fixed.get("policy"),
                        fixed.get("context", DEFAULT_CONTEXT), fixed.get("max_gamma", 16), fixed.get("tree_q"),
                        params).speedup

    m = float(measured_speedup)
    low, high = speed(0.0), speed(1.0)
    if not low <= m <= high:
        raise Unreachable(f"no alpha in [0, 1] explains a speedup of {m:g} here: this set-up gives "
                          f"{low:.3g} at alpha 0 and {high:.3g} at alpha 1")
    lo, hi = 0.0, 1.0
    for _ in range(_BISECT_STEPS):
        mid = 0.5 * (lo + hi)
        if speed(mid) < m:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)
