"""The engine's policies: small classes behind one interface each, chosen by name from a registry.

- γ policy (``GAMMA_POLICIES``): how many drafts the running batch proposes this step.
  ``fixed`` — always γ; ``goodput`` — the γ in 0..max_gamma that maximises expected tokens
  per second of the step (SmartSpec, Liu et al. 2024, arXiv 2406.14066, Section 4).
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

# ----------------------------------------------------------------------------- γ policies


class FixedGamma:
    """γ drafts every step."""

    name = "fixed"

    def __init__(self, gamma: int):
        self.fixed = gamma  # the engine reads it directly: no call per step

    def choose(self, rep, batch: int) -> int:
        return self.fixed

    def refresh(self, rep) -> None:
        """Acceptance changed (a draft update): nothing to recompute."""


class GoodputGamma:
    """The γ maximising E[tokens | γ] / step seconds for the running batch (SmartSpec)."""

    name = "goodput"
    fixed = None

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


def gamma_policy(gamma: int | str, max_gamma: int):
    """The policy a scenario's ``gamma`` names: an integer (fixed) or "goodput"."""
    if isinstance(gamma, int):
        return FixedGamma(gamma)
    return GAMMA_POLICIES[gamma](max_gamma)


GAMMA_POLICIES = {"fixed": FixedGamma, "goodput": GoodputGamma}

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
