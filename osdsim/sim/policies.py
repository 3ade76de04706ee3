"""The engine's policies: small classes behind one interface each, chosen by name from a registry.

- γ policy (``GAMMA_POLICIES``): how many drafts the running batch proposes this step.
  ``fixed`` — always γ; ``goodput`` — the γ in 0..max_gamma that maximises expected tokens
  per second of the step (SmartSpec, Liu et al. 2024, arXiv 2406.14066, Section 4);
  ``adaptive`` — SpecDec++'s stopping rule with the acceptance model as predictor;
  ``hf-heuristic`` and ``confidence`` — one γ per sequence: transformers' schedule (+2 after a
  fully accepted step, −1 otherwise) and llama.cpp's p_min cut-off (drafting stops at the first
  token below the threshold). :mod:`osdsim.cost.gamma_policy` has their closed forms.
- admission (``ADMISSIONS``): which waiting requests join. ``fifo`` — first come first served
  within ``max_batch`` and the KV-cache capacity, which reserves prompt + output tokens per
  request so nothing is preempted (a request that can never fit is dropped).
- prefill (``PREFILLS``): how admitted prompts are prefilled. ``whole`` — in an iteration of
  their own, the running batch waiting (vLLM V0's scheduler); ``chunked`` — up to C prompt
  tokens ride along with the batch's step in one fused iteration (Sarathi-Serve, Agrawal et al.
  2024, arXiv 2403.02310; vLLM V1).

The distiller's modes (spare, exclusive) are in :mod:`osdsim.sim.distiller`, the routers in
:mod:`osdsim.sim.routing`.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from osdsim.acceptance import geometric_scale
from osdsim.cost import gamma_policy as gp

# ----------------------------------------------------------------------------- γ policies


class FixedGamma:
    """γ drafts every step."""

    name = "fixed"
    per_sequence = False

    def __init__(self, gamma: int):
        self.fixed = gamma  # the engine reads it directly: no call per step
        self.start = gamma

    def choose(self, rep, batch: int) -> int:
        return self.fixed

    def refresh(self, rep) -> None:
        """Acceptance changed (a draft update): nothing to recompute."""


class GoodputGamma:
    """The γ maximising E[tokens | γ] / step seconds for the running batch (SmartSpec)."""

    name = "goodput"
    fixed = None
    per_sequence = False
    start = 0

    def __init__(self, max_gamma: int):
        self.max_gamma = max_gamma
        self.memo: dict = {}
        self.etok = np.zeros((max_gamma + 1, 1))

    def refresh(self, rep) -> None:
        """E[1 + accepted] per γ and domain for the draft as it is now."""
        model, names, trained = rep.cl.acceptance, rep.cl.domains, rep.n_trained
        self.etok = np.array([[model.expected_tokens(g, d, n) for d, n in zip(names, trained)]
                              for g in range(self.max_gamma + 1)])
        self.memo = {}

    def choose(self, rep, batch: int) -> int:
        cl = rep.cl
        ctx = rep.ctx_sum / batch
        single = cl.num_domains == 1
        key = (batch, int(ctx / cl.pricer.bucket + 0.5))
        if single and key in self.memo:
            return self.memo[key]
        if single:
            etok = self.etok[:, 0]
        else:
            etok = self.etok @ (np.bincount(rep.domains_running(), minlength=cl.num_domains) / batch)
        price = cl.pricer.step
        rates = [etok[g] / price(batch, g, ctx)[0] for g in range(self.max_gamma + 1)]
        best = int(np.argmax(rates))
        if single:
            self.memo[key] = best
        return best


class AdaptiveGamma:
    """SpecDec++-style: the largest γ whose whole draft the acceptance model expects accepted with
    probability >= ``threshold`` (at most ``max_gamma``), re-chosen when α moves."""

    name = "adaptive"
    fixed = None
    per_sequence = False

    def __init__(self, max_gamma: int, threshold: float):
        self.max_gamma, self.threshold, self.start = max_gamma, threshold, max_gamma
        self.by_domain: list[int] = []

    def refresh(self, rep) -> None:
        self.by_domain = [gp.adaptive_gamma(a, self.threshold, self.max_gamma) for a in rep.alpha_l]

    def choose(self, rep, batch: int) -> int:
        if len(self.by_domain) == 1:
            return self.by_domain[0]
        return gp.adaptive_gamma(rep.alpha_sum / batch, self.threshold, self.max_gamma)


class HeuristicGamma:
    """transformers' assisted generation, per request: γ starts at ``start``, grows by 2 after a
    step whose drafts were all accepted and shrinks by 1 otherwise (never below 1)."""

    name = "hf-heuristic"
    fixed = None
    per_sequence = True

    def __init__(self, start: int):
        self.start = start

    def refresh(self, rep) -> None:
        """Nothing depends on α."""

    def choose(self, rep, batch: int) -> int:
        return int(rep.batch.views[batch].gamma.max())

    def drafts(self, rep, batch: int, gamma: int) -> tuple[np.ndarray, np.ndarray]:
        g = rep.batch.views[batch].gamma.astype(np.intp)
        return g, g

    def after(self, rep, batch: int, accepted: np.ndarray, drafts: np.ndarray) -> None:
        g = rep.batch.views[batch].gamma
        g[:] = np.maximum(np.where(accepted >= drafts, g + 2.0, g - 1.0), 1.0)


class ConfidenceGamma:
    """llama.cpp's ``--draft-p-min`` / transformers' ``assistant_confidence_threshold``: each
    draft token passes the threshold with probability ``pass_rate`` (i.i.d.); drafting stops at
    the first that does not (it was computed: one more draft forward), at most γ."""

    name = "confidence"
    fixed = None
    per_sequence = True

    def __init__(self, gamma: int, pass_rate: float):
        self.start, self.gamma, self.pass_rate = gamma, gamma, pass_rate
        self.scale = geometric_scale(pass_rate)

    def refresh(self, rep) -> None:
        """The pass rate is a property of the draft's confidences (measured), not of α here."""

    def choose(self, rep, batch: int) -> int:
        return self.gamma

    def drafts(self, rep, batch: int, gamma: int) -> tuple[np.ndarray, np.ndarray]:
        x = rep.rng.standard_exponential(batch) * self.scale
        g = np.minimum(x, gamma).astype(np.intp)
        return g, np.minimum(g + 1, gamma)  # the failing token's forward was run

    def after(self, rep, batch: int, accepted: np.ndarray, drafts: np.ndarray) -> None:
        """Nothing to remember between steps."""


def gamma_policy(gamma: int | str, max_gamma: int, spec=None):
    """The policy a scenario's ``gamma`` (an integer, or "goodput") and ``gamma_policy`` name."""
    kind = spec.kind if spec is not None else ("goodput" if gamma == "goodput" else "fixed")
    if kind == "goodput":
        return GoodputGamma(max_gamma)
    if kind == "fixed":
        return FixedGamma(gamma)
    if kind == "adaptive":
        return AdaptiveGamma(gamma, spec.threshold)
    if kind == "hf-heuristic":
        return HeuristicGamma(gamma)
    return ConfidenceGamma(gamma, spec.pass_rate)


GAMMA_POLICIES = {"fixed": FixedGamma, "goodput": GoodputGamma, "adaptive": AdaptiveGamma,
                  "hf-heuristic": HeuristicGamma, "confidence": ConfidenceGamma}

# ----------------------------------------------------------------------------- admission


class FifoAdmission:
    """First come first served within ``max_batch`` and the KV-cache capacity."""

    name = "fifo"
    __slots__ = ("max_batch", "capacity", "kv_need", "prompt", "rejected")

    def __init__(self, cl):
        self.max_batch, self.capacity, self.kv_need = cl.max_batch, cl.kv_capacity, cl.kv_need_l
        self.prompt, self.rejected = cl.prompt_l, cl.rejected

    def admit(self, rep) -> tuple[list[int], float]:
        """Pop admitted requests off the queue; returns them and their prompt tokens."""
        waiting, kv_need, capacity = rep.waiting, self.kv_need, self.capacity
        room = self.max_batch - rep.batch.n - len(rep.prefill.queue)
        admitted, prompts, used = [], 0, rep.kv_used
        while waiting and len(admitted) < room:
            i = waiting[0]
            need = kv_need[i]
            if need > capacity:  # can never fit: dropped
                waiting.popleft()
                self.rejected[i] = True
                rep.dropped += 1
                continue
            if used + need > capacity:
                break
            waiting.popleft()
            used += need
            admitted.append(i)
            prompts += self.prompt[i]
        rep.kv_used = used
        return admitted, prompts


ADMISSIONS = {"fifo": FifoAdmission}

# ----------------------------------------------------------------------------- prefill


class WholePrefill:
    """Admitted prompts are prefilled whole, in an iteration of their own (vLLM V0): the running
    batch steps only in iterations that prefill nothing (``fused`` False)."""

    name = "whole"
    fused = False
    queue: deque = deque()  # prompts partly prefilled: never any

    def plan(self, admitted: list[int], prompts: float) -> tuple[list[int], int, float]:
        """(requests whose prefill completes this iteration, prompts prefilled, prompt tokens)."""
        return admitted, len(admitted), prompts if admitted else 0


class ChunkedPrefill:
    """Up to ``chunk`` prompt tokens per iteration, fused with the running batch's step."""

    name = "chunked"
    fused = True  # the running batch steps in the same iteration

    def __init__(self, chunk: int, prompt_l: list[float]):
        self.chunk, self.prompt_l = chunk, prompt_l
        self.queue: deque[list] = deque()  # [request, prompt tokens left]

    def plan(self, admitted: list[int], prompts: float) -> tuple[list[int], int, float]:
        self.queue.extend([i, self.prompt_l[i]] for i in admitted)
        done, taken, seqs, queue, budget = [], 0, 0, self.queue, self.chunk
        while queue and taken < budget:
            entry = queue[0]
            take = min(budget - taken, entry[1])
            entry[1] -= take
            taken += take
            seqs += 1
            if entry[1] <= 0:
                done.append(entry[0])
                queue.popleft()
        return done, seqs, taken


def prefill_policy(chunk: int | None, prompt_l: list[float]):
    return WholePrefill() if chunk is None else ChunkedPrefill(chunk, prompt_l)


PREFILLS = {"whole": WholePrefill, "chunked": ChunkedPrefill}
