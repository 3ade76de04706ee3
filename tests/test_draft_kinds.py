"""Draft kinds (model, n-gram, head, self), draft trees and γ policies: each kind's step priced by
hand, tree τ against brute-force enumeration, every γ policy's expected τ and step time against
the simulator over >= 10k steps, and scenario errors naming the field."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from osdsim.cost import ConstantCost, drafts, spec_step_time
from osdsim.cost import gamma_policy as gp
from osdsim.cost import tree as trees
from osdsim.sim import simulate
from osdsim.specs import FrameworkSpec, load_hardware, load_model

BARE = FrameworkSpec("bare")
T, HW = load_model("llama-3.1-8b"), load_hardware("h100-sxm")


def fwd(model, batch, tokens, ctx):
    from osdsim.cost import forward_time

    return forward_time(model, HW, batch, tokens, ctx, framework=BARE)


def test_each_kind_prices_its_proposal_by_hand():
    b, g, ctx = 4, 3, 300
    verify = fwd(T, b, g + 1, ctx)
    one_b = load_model("llama-3.2-1b")
    assert spec_step_time(T, one_b, HW, b, g, ctx, framework=BARE) == pytest.approx(verify + g * fwd(one_b, b, 1, 301))
    eagle = drafts.head_drafter(T, "eagle")  # one decoder layer of the target + its 128k-row head
    assert eagle.model.matmul_params == T.layer_params + T.lm_head_params
    assert spec_step_time(T, eagle, HW, b, g, ctx, framework=BARE) == pytest.approx(verify + g * fwd(eagle.model, b, 1, 301))
    self8 = drafts.self_drafter(T, 8)  # the first 8 layers and the head: no weights of its own
    assert self8.model.num_layers == 8 and self8.weight_bytes("bf16") == 0
    assert spec_step_time(T, self8, HW, b, g, ctx, framework=BARE) == pytest.approx(verify + g * fwd(self8.model, b, 1, 301))
    ngram = drafts.ngram_drafter(2e-4, 1e-5, match_rate=0.5)  # CPU only; half the contexts draft
    expected = fwd(T, b, 0.5 * g + 1, ctx) + 2e-4 + b * 1e-5
    assert spec_step_time(T, ngram, HW, b, g, ctx, framework=BARE) == pytest.approx(expected)
    # An n-gram tree (Token Recycling style) verifies all its nodes where a context matched.
    tree_ngram = drafts.ngram_drafter(match_rate=0.5, name="ngram-tree", tree=trees.full(2, 3))
    expected = fwd(T, b, 0.5 * 14 + 1, ctx)
    assert spec_step_time(T, tree_ngram, HW, b, 1, ctx, framework=BARE) == pytest.approx(expected)


def test_tree_drafts_verify_every_node_and_expand_one_depth_per_forward():
    nodes = trees.full(2, 2)  # 2 nodes at depth 1, 4 at depth 2
    eagle = drafts.head_drafter(T, "eagle", tree=nodes)
    expected = fwd(T, 1, 7, 100) + fwd(eagle.model, 1, 2, 100) + fwd(eagle.model, 1, 4, 101)
    assert spec_step_time(T, eagle, HW, 1, 5, 100, framework=BARE) == pytest.approx(expected)
    medusa = drafts.head_drafter(T, "medusa", heads=2, tree=nodes)  # every head from one forward
    assert spec_step_time(T, medusa, HW, 1, 5, 100, framework=BARE) == pytest.approx(
        fwd(T, 1, 7, 100) + fwd(medusa.model, 1, 6, 100))


def brute_force(nodes, q) -> float:
    """E[accepted] by enumerating which rank is right at every depth (or none)."""
    present, depth = set(nodes), trees.depth(nodes)
    total = 0.0
    for ranks in itertools.product(*[range(len(q[d]) + 1) for d in range(depth)]):
        p, path, accepted = 1.0, (), 0
        for d, r in enumerate(ranks):
            p *= q[d][r] if r < len(q[d]) else 1.0 - sum(q[d])
        for r in ranks:
            if r == len(q[0]) or path + (r,) not in present:
                break
            path += (r,)
            accepted += 1
        total += p * accepted
    return total


@pytest.mark.parametrize("nodes", [trees.chain(3), trees.full(2, 2), trees.full(3, 2),
                                   trees.check([[0], [1], [0, 0], [0, 1], [1, 0], [0, 0, 0]])])
def test_tree_tau_matches_brute_force(nodes):
    q = [[0.5, 0.2, 0.1], [0.6, 0.15, 0.05], [0.4, 0.3, 0.1]]
    assert trees.expected_accepted(nodes, q) == pytest.approx(brute_force(nodes, q))
    dist = trees.length_distribution(nodes, q)
    assert dist.sum() == pytest.approx(1.0) and dist @ np.arange(len(dist)) == pytest.approx(brute_force(nodes, q))
    if nodes == trees.chain(3):  # a chain with top-1 acceptance α is Leviathan's τ
        assert trees.tau(nodes, [[0.7]] * 3) == pytest.approx(1 + 0.7 + 0.49 + 0.343)


COST = ConstantCost({"llama-3.1-8b": 0.02, "llama-3.2-1b": 0.004})


def run_policy(extra: dict, alpha: float = 0.7):
    """Batch 1 (one client), long outputs: >= 10k steps; tokens and seconds per step."""
    sc = {"target": "llama-3.1-8b", "draft": "llama-3.2-1b", "hardware": "h100-sxm", "max_batch": 1,
          "acceptance": {"alpha": alpha}, "framework": "none", **extra,
          "workload": {"arrival": "closed", "concurrency": 1, "num_requests": 10, "prompt_tokens": 16,
                       "output_tokens": 3000}}
    steps = simulate(sc, cost=COST, baseline=False).steps
    dec = steps[steps.batch > 0]
    assert len(dec) >= 10_000
    return (dec.tokens - dec.first_tokens).mean(), dec.busy_s.mean()


def step_s(g: int) -> float:
    return 0.02 + 0.004 * g  # constant costs: γ draft forwards + one verify


@pytest.mark.parametrize("policy, extra, params", [
    ("fixed", {"gamma": 4}, {}),
    ("adaptive", {"gamma": 10, "gamma_policy": {"kind": "adaptive", "threshold": 0.2}}, {"threshold": 0.2}),
    ("hf-heuristic", {"gamma": 5, "gamma_policy": "hf-heuristic"}, {}),
    ("confidence", {"gamma": 8, "gamma_policy": {"kind": "confidence", "pass_rate": 0.8, "alpha_passed": 0.85}},
     {"pass_rate": 0.8, "alpha_passed": 0.85, "draft_forward_s": 0.004}),
])
def test_policy_expected_tau_and_step_time_match_the_simulator(policy, extra, params):
    tokens, seconds = run_policy(extra)
    want_tokens, want_seconds, _ = gp.policy_rate(0.7, step_s, policy, extra["gamma"], **params)
    assert tokens == pytest.approx(want_tokens, rel=0.02)
    assert seconds == pytest.approx(want_seconds, rel=0.02)


def test_goodput_policy_matches_the_best_fixed_gamma():
    tokens, seconds = run_policy({"gamma": "goodput", "max_gamma": 10})
    best, rate = gp.best_fixed_gamma(0.7, step_s, 10)
    assert tokens / seconds == pytest.approx(rate, rel=0.02)


@pytest.mark.parametrize("draft, message", [
    ({"kind": "lookahead"}, "draft.kind must be one of"),
    ({"kind": "head", "style": "hydra"}, "draft.style must be one of"),
    ({"kind": "ngram", "match_rate": 1.5}, "draft.match_rate must be"),
    ({"kind": "head", "tree": [[0, 0]]}, "draft.tree: tree node [0, 0] has no parent"),
    ({"kind": "model"}, "draft.card must name"),
    ({"kind": "self", "layers": 64}, "draft.layers must be in 1..31"),
    ({"kind": "head", "colour": 3}, "draft.colour is not a draft field"),
])
def test_draft_errors_name_the_field(draft, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        simulate({"target": "llama-3.1-8b", "draft": draft, "workload": {"num_requests": 5}})


def test_confidence_cutoff_replay_matches_the_closed_form_on_iid_steps():
    from osdsim.acceptance.confidence import confidence_rates, replay_cutoff
    from osdsim.cost.gamma_policy import policy_rate

    assert replay_cutoff([0.9, 0.3, 0.8], [1, 1, 0], 0.5) == (2, 1, 1, 1)  # stops at the 0.3 draft
    assert replay_cutoff([0.9, 0.8, 0.8], [1, 0], 0.5) == (2, 2, 1, 2)  # stops at the rejection
    rng = np.random.default_rng(3)
    gamma, s, a = 5, 0.8, 0.7
    steps = []
    for _ in range(20_000):
        conf = np.where(rng.random(gamma) < s, 0.9, 0.1).tolist()
        ok = rng.random(gamma) < a
        first = int(np.argmin(ok)) if not ok.all() else gamma
        steps.append((conf, [1] * first + ([0] if first < gamma else [])))
    got = confidence_rates(steps, 0.5)
    assert got["pass_rate"] == pytest.approx(s, abs=0.01) and got["alpha_passed"] == pytest.approx(a, abs=0.01)
    tokens, _, mean_gamma = policy_rate(a, lambda g: 1.0, "confidence", gamma, pass_rate=got["pass_rate"],
                                        alpha_passed=got["alpha_passed"])
    assert got["tau"] == pytest.approx(tokens, rel=0.02)
    with pytest.raises(ValueError, match="p_min"):
        confidence_rates(steps, 1.5)


@pytest.mark.parametrize("name", sorted(trees.NAMED_TREES))
def test_the_simulators_fast_tree_cdf_equals_the_tree_walk(name):
    """sim.proposer draws accepted depths from trees.geometric_length_cdf (rank-sum counts);
    it must equal the walk over the tree's nodes (length_distribution) at every α."""
    nodes = trees.named(name)
    counts = trees.rank_sum_counts(nodes)
    top = max(n[-1] for n in nodes)
    for a in np.linspace(0.0, 1.0, 21):
        walk = np.cumsum(trees.length_distribution(nodes, trees.rank_acceptance(a, trees.depth(nodes), top)))
        np.testing.assert_allclose(trees.geometric_length_cdf(counts, a), walk, atol=1e-12)


def test_an_ngram_tree_counts_its_tokens_only_where_the_context_matched():
    """predict: a lookup tree matched on half the steps gives 0.5·τ(tree) + 0.5 tokens per step."""
    from osdsim.cost.predict import predict

    nodes = trees.full(2, 2)
    full = predict(0.6, T, drafts.ngram_drafter(tree=nodes), HW, framework=BARE)
    half = predict(0.6, T, drafts.ngram_drafter(match_rate=0.5, tree=nodes), HW, framework=BARE)
    assert half.tau == pytest.approx(0.5 * full.tau + 0.5)
