"""A serving framework: what the software adds to the roofline of a forward pass and of a step.

Hardware alone does not set the time of a step: the framework does (eager launches or CUDA
graphs, kernels, scheduler, sampler, how speculation is wired in). Vidur (Agrawal et al. 2024,
arXiv 2405.05465) profiles each framework's operators and CPU overheads for that reason; osdsim
prices them with a few named terms, each cited in its card (``osdsim/cards/framework/*.yaml``):

- **host work per forward** — ``host_per_forward_s`` + layers · ``host_per_layer_s`` + sequences
  · ``host_per_seq_s``: Python, input preparation and kernel launches. On a GPU the host queues
  kernels ahead of the device, so a forward takes max(device time, host time) (``overlap``);
  on a CPU the same cores do both and the two add.
- **sync per forward** (``sync_per_forward_s``): what cannot overlap (reading back sampled
  tokens, a device synchronisation).
- **per step** — ``per_step_s`` + sequences · ``per_seq_step_s`` (scheduling, sampling,
  detokenisation, output processing) every engine iteration, and when speculating
  ``spec_per_step_s`` + verified tokens · ``spec_per_token_s`` (proposer and scorer control, the
  rejection sampler, batch-expansion bookkeeping).
- **batch expansion** (vLLM V0's scorer): the verify of γ + 1 tokens per sequence runs as
  B·(γ + 1) one-token sequences, each reading its own KV cache.
- **per draft forward** (``draft_per_forward_s``): the proposer's own work for each draft token
  beyond the model's forward (sampling it, bookkeeping, synchronising), which a small draft
  pays γ times a step.
- **small-batch weight re-reads** (``small_batch_reread``): kernels for a handful of tokens
  (llama.cpp's mmvq for up to ``small_batch_max_tokens`` columns) re-read the weights for every
  few tokens, so a forward of n ≤ that many tokens moves the weights 1 + r·(n − 1) times.
- **efficiencies**: the fraction of the hardware's achievable bandwidth and FLOP/s that the
  framework's kernels reach (the hardware card holds what the best kernels reach).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

GAMMA_POLICIES = ("fixed", "hf-heuristic", "goodput")


@dataclass(frozen=True)
class FrameworkSpec:
    """One serving framework's costs on top of the roofline (see the module docstring)."""

    name: str
    host_per_forward_s: float = 0.0
    host_per_layer_s: float = 0.0
    host_per_seq_s: float = 0.0
    sync_per_forward_s: float = 0.0
    overlap: bool = True  # host work overlaps device execution (asynchronous launches)
    per_step_s: float = 0.0
    per_seq_step_s: float = 0.0
    spec_per_step_s: float = 0.0
    spec_per_token_s: float = 0.0
    batch_expansion: bool = False
    draft_per_forward_s: float = 0.0
    small_batch_reread: float = 0.0
    small_batch_max_tokens: int = 8
    bandwidth_efficiency: float = 1.0
    compute_efficiency: float = 1.0
    gamma_policy: str = "fixed"  # how the framework sets γ by default (hf-heuristic: transformers)
    gamma_start: int = 5  # hf-heuristic: γ of the first step (transformers' num_assistant_tokens)
    description: str = ""
    source: str = ""
    # Numbers fitted to rows of the published fidelity suite (benchmarks/published) name the source
    # they came from here, with the values derived without it: {source: {field: value}}. The suite
    # scores that source's rows with them (leave-one-source-out).
    loso: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        for name in ("host_per_forward_s", "host_per_layer_s", "host_per_seq_s", "sync_per_forward_s",
                     "per_step_s", "per_seq_step_s", "spec_per_step_s", "spec_per_token_s", "draft_per_forward_s"):
            value = getattr(self, name)
            if not (value >= 0 and value < 1.0):  # also refuses NaN
                raise ValueError(f"framework {self.name!r}: {name} must be in [0, 1) seconds, got {value!r}")
        for name in ("bandwidth_efficiency", "compute_efficiency"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ValueError(f"framework {self.name!r}: {name} must be in (0, 1], got {value!r}")
        if not 0 <= self.small_batch_reread <= 1 or not 1 <= self.small_batch_max_tokens <= 4096:
            raise ValueError(f"framework {self.name!r}: small_batch_reread must be in [0, 1] and "
                             f"small_batch_max_tokens in 1..4096")
        if self.gamma_policy not in GAMMA_POLICIES:
            raise ValueError(f"framework {self.name!r}: gamma_policy must be one of "
                             f"{', '.join(GAMMA_POLICIES)}, got {self.gamma_policy!r}")
        if not 1 <= self.gamma_start <= 64:
            raise ValueError(f"framework {self.name!r}: gamma_start must be in 1..64, got {self.gamma_start!r}")

    def host_s(self, num_layers: int, batch):
        """Host seconds of one forward of a model with ``num_layers`` layers at ``batch``."""
        return self.host_per_forward_s + num_layers * self.host_per_layer_s + batch * self.host_per_seq_s

    def weight_passes(self, tokens):
        """How many times a forward over ``tokens`` tokens (all sequences) reads the weights."""
        n = tokens
        if np.ndim(n):
            n = np.asarray(n, dtype=float)
            return np.where(n <= self.small_batch_max_tokens, 1.0 + self.small_batch_reread * (n - 1.0), 1.0)
        return 1.0 + self.small_batch_reread * (n - 1.0) if n <= self.small_batch_max_tokens else 1.0

    def step_s(self, batch, gamma, verified_tokens=None, prefill_seqs=0, draft_forwards=None):
        """Seconds one engine iteration adds outside its forwards: ``batch`` decoding sequences
        with γ drafts each (0: plain decoding), plus ``prefill_seqs`` prompts prefilled in it;
        ``verified_tokens`` defaults to B·(γ + 1), ``draft_forwards`` (sequential draft forwards
        in the step) to γ."""
        out = self.per_step_s + (batch + prefill_seqs) * self.per_seq_step_s
        verified = batch * (gamma + 1) if verified_tokens is None else verified_tokens
        forwards = gamma if draft_forwards is None else draft_forwards
        spec = self.spec_per_step_s + verified * self.spec_per_token_s + forwards * self.draft_per_forward_s
        if np.ndim(gamma):
            return out + np.where(np.asarray(gamma) > 0, spec, 0.0)
        return out + spec if gamma else out
