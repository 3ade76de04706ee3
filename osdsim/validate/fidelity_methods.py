"""The proposers of the fidelity suite's rows other than a separate draft model: the draft trees
and constants their reference code uses, each with where it was read, and the drafter of a row
(:func:`drafter_of`, used by :mod:`osdsim.validate.fidelity`)."""

from __future__ import annotations

import math

from osdsim.cost import tree as trees
from osdsim.cost.drafts import head_drafter, model_drafter, ngram_drafter
from osdsim.specs import ModelSpec, load_model

# --- Proposers other than a draft model, as the published rows ran them ------------------------------
# Spec-Bench (https://github.com/hemingkx/Spec-Bench) ran every method with its own research code; its
# leaderboard rows in the suite are from commit 5544fd7a, and the files cited below are the same there
# and at fd2c1cd (2025-04-22). Trees are node paths (osdsim.cost.tree): ranks from the root.

# EAGLE-1 (Li et al. 2024, arXiv 2401.15077): ``mc_sim_7b_63`` of
# https://github.com/SafeAILab/EAGLE/blob/main/eagle/model/choices.py, identical to Spec-Bench's
# model/eagle/choices.py, the default of its evaluation/inference_eagle.py (``--tree-choices``
# "mc_sim_7b_63"). 25 nodes, depth 5, despite the name.
EAGLE1_MC_SIM_7B_63 = trees.NAMED_TREES["eagle-mc_sim_7b_63"]  # the same tuple, kept once
# Medusa (Cai et al. 2024, arXiv 2401.10774): ``mc_sim_7b_63`` of
# https://github.com/FasterDecoding/Medusa/blob/main/medusa/model/medusa_choices.py, identical to
# Spec-Bench's model/medusa/medusa_choices.py, the default of its evaluation/inference_medusa.py
# (``--medusa-choices`` "mc_sim_7b_63"). 63 nodes, depth 4.
MEDUSA_MC_SIM_7B_63 = trees.NAMED_TREES["medusa-mc_sim_7b_63"]
# Medusa heads Spec-Bench loads: evaluation/inference_medusa.py sets ``num_heads = 4`` and passes it as
# medusa_num_heads (one ResBlock each: medusa_num_layers 1 in the checkpoint's config.json,
# https://huggingface.co/FasterDecoding/medusa-vicuna-7b-v1.3/blob/main/config.json).
SPECBENCH_MEDUSA_HEADS = 4
# EAGLE-2 (Li et al. 2024, arXiv 2406.16858): Spec-Bench's evaluation/inference_eagle2.py defaults
# ``--total-token 60 --depth 5 --top-k 10``; model/eagle2/cnets.py keeps total_tokens - 1 = 59 draft
# tokens (the 60th verified token is the root), and topK_genrate runs one draft forward over the newly
# accepted tokens, then ``depth`` forwards over the top_k best nodes so far (the last one's candidates
# are depth 6), and verifies the 59 candidates of highest cumulative draft log-probability.
EAGLE2_TOTAL_TOKEN, EAGLE2_DEPTH, EAGLE2_TOP_K = 60, 5, 10
# Prompt lookup (Saxena 2023): Spec-Bench's evaluation/inference_pld.py calls greedy_search_pld
# (model/pld/pld.py) with draft_matching_window_size=3, draft_num_candidate_tokens=10, the defaults of
# find_candidate_pred_tokens(max_ngram_size=3, num_pred_tokens=10) in
# https://github.com/apoorvumang/prompt-lookup-decoding (README). A matched step drafts 10 tokens.
PLD_NUM_PRED_TOKENS = 10

TREES = {"eagle1-mc_sim_7b_63": EAGLE1_MC_SIM_7B_63, "medusa-mc_sim_7b_63": MEDUSA_MC_SIM_7B_63}
DYNAMIC_TREES = ("eagle2-dynamic",)
TREE_SOURCES = {
    "eagle1-mc_sim_7b_63": "EAGLE's mc_sim_7b_63 (SafeAILab/EAGLE eagle/model/choices.py; Spec-Bench's default)",
    "medusa-mc_sim_7b_63": "Medusa's mc_sim_7b_63 (FasterDecoding/Medusa medusa/model/medusa_choices.py; "
                           "Spec-Bench's default)",
}


def eagle2_tree(alpha: float, total_token: int = EAGLE2_TOTAL_TOKEN, depth: int = EAGLE2_DEPTH,
                top_k: int = EAGLE2_TOP_K) -> tuple:
    """The tree EAGLE-2's drafting (Spec-Bench model/eagle2/cnets.py, ``topK_genrate``) verifies when
    the draft's probability of its rank-r candidate is the rank acceptance α(1 − α)^r at every node
    (EAGLE-2's premise: the draft's confidence approximates acceptance): the top_k children of the
    root, then ``depth`` times the top_k children of each of the top_k best nodes of the last depth
    (by cumulative log-probability), and of all those candidates the ``total_token`` − 1 best."""
    a = min(max(float(alpha), 1e-12), 1.0 - 1e-12)
    logq = [math.log(a) + r * math.log1p(-a) for r in range(top_k)]
    score = {(r,): logq[r] for r in range(top_k)}
    frontier = sorted(score, key=lambda n: (-score[n], n))[:top_k]
    for _ in range(depth):
        children = {p + (r,): score[p] + logq[r] for p in frontier for r in range(top_k)}
        score.update(children)
        frontier = sorted(children, key=lambda n: (-children[n], n))[:top_k]
    # a child never scores above its parent, and ties go to the shallower node: every parent is in
    return trees.check(sorted(score, key=lambda n: (-score[n], len(n), n))[:total_token - 1])


def tree_nodes(name: str, alpha: float | None = None) -> tuple:
    """A named tree of :data:`TREES`, or a dynamic one as it stands at ``alpha``."""
    if name in TREES:
        return trees.check(TREES[name])
    if name == "eagle2-dynamic":
        if alpha is None:
            raise ValueError("the EAGLE-2 dynamic tree needs alpha")
        return eagle2_tree(alpha)
    raise ValueError(f"unknown draft tree {name!r} (known: {', '.join([*TREES, *DYNAMIC_TREES])})")


def tree_tau(nodes, alpha: float) -> float:
    """τ of a tree with one α at every depth (rank acceptance, :func:`osdsim.cost.tree.rank_acceptance`)."""
    return trees.tau(nodes, trees.rank_acceptance(alpha, trees.depth(nodes), max(n[-1] for n in nodes)))


def alpha_for_tree_tau(tau: float, name: str) -> float:
    """The per-depth α whose tree τ equals ``tau`` (bisection; τ rises with α for these trees)."""
    def f(a: float) -> float:
        return tree_tau(tree_nodes(name, a), a)

    lo, hi = 1e-9, 1.0 - 1e-9
    if not f(lo) <= tau <= f(hi):
        raise ValueError(f"tau {tau:g} is out of reach of tree {name} ({f(lo):.3g} to {f(hi):.3g})")
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if f(mid) < tau else (lo, mid)
    return 0.5 * (lo + hi)


def drafter_of(case, target: ModelSpec, alpha: float | None = None):
    """The proposer of this row (column ``drafter``): a draft card (a separate model), or a
    :class:`~osdsim.cost.drafts.Drafter` — ``ngram`` (prompt lookup, every step matched),
    ``eagle-head`` (one decoder layer of the target's shape, the target's LM head), ``medusa-head:N``
    (N heads) — with the row's tree (column ``tree``; a dynamic one as it stands at ``alpha``)."""
    i = case.inputs
    kind, _, count = (i.get("drafter") or "model").partition(":")
    tree = tree_nodes(i["tree"], alpha) if i.get("tree") else None
    if kind == "model":
        card = load_model(i["draft_card"])
        return card if tree is None else model_drafter(card, tree)
    if kind == "ngram":
        return ngram_drafter(match_rate=1.0, name="prompt lookup", tree=tree)
    if kind == "eagle-head":
        return head_drafter(target, "eagle", layers=1, tree=tree)
    if kind == "medusa-head":
        return head_drafter(target, "medusa", heads=int(count), tree=tree)
    raise ValueError(f"unknown drafter {i['drafter']!r}")


def drafter_note(case, target: ModelSpec, draft, setting: dict) -> str:
    """What proposed a row's drafts and how it is priced, for the row's notes."""
    if isinstance(draft, ModelSpec):
        return f"draft model {draft.name}"
    if draft.kind == "ngram":
        return (f"prompt lookup drafting {setting['gamma']} tokens on every step (match rate 1 assumed: only tau "
                f"is published, not how it splits into match rate and alpha, so the verify is priced at "
                f"{setting['gamma'] + 1} tokens every step, an upper bound); lookup time not published, priced 0")
    if draft.parallel:  # Medusa: drafts.head_drafter prices its heads as that many MLP-only layers
        return (f"Medusa, {draft.model.num_layers} heads (a ResBlock and an LM head each, Spec-Bench's "
                f"num_heads) over every tree node in one pass")
    return f"EAGLE head: one decoder layer of {target.name}'s shape and {target.name}'s LM head"


def tree_note(case, draft) -> str:
    """Which tree a row's drafter verifies and its shape, for the row's notes ("" for a chain)."""
    name = case.inputs.get("tree")
    if not name:
        return ""
    nodes = draft.tree
    shape = f"{len(nodes)} nodes, depth {trees.depth(nodes)}, widths {trees.widths(nodes)}"
    if name in DYNAMIC_TREES:
        note = (f"tree: EAGLE-2's dynamic tree (Spec-Bench defaults total_token {EAGLE2_TOTAL_TOKEN}, depth "
                f"{EAGLE2_DEPTH}, top_k {EAGLE2_TOP_K}) as its selection builds it when the draft's confidence "
                f"equals rank acceptance at this alpha: {shape}")
        if trees.depth(nodes) != EAGLE2_DEPTH + 1:
            note += (f" (osdsim prices one draft forward per depth, {trees.depth(nodes)}; EAGLE-2 runs "
                     f"{EAGLE2_DEPTH + 1})")
        return note
    return f"tree: {TREE_SOURCES.get(name, name)}, {shape}"
