"""The fields of a scenario: frozen dataclasses, every field defaulted, and the choices of the
string fields. :mod:`osdsim.sim.scenario_parse` checks a raw mapping into them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

ARRIVALS = ("poisson", "gamma", "constant", "replay", "closed")
ACCEPTANCE_MODELS = ("constant", "per_position", "empirical", "learning_curve")
# auto: the card's measured table (``osdsim calibrate``) where it has one and it applies (tensor
# parallelism 1, the card's dtype), the roofline elsewhere; measured: the same, and an error when
# it does not apply; roofline: the roofline only; constant: fixed seconds per forward.
COST_MODELS = ("auto", "roofline", "measured", "constant")
ROUTERS = ("round_robin", "least_outstanding")
DISTS = ("fixed", "uniform", "lognormal")


@dataclass(frozen=True)
class LengthDist:
    """Token counts per request: fixed ``mean``; uniform integers in [low, high]; or lognormal
    with ``mean`` and coefficient of variation ``cv``. Draws are rounded to integers, and a draw
    below 1 becomes 1 (the only clipping; lognormal draws are positive so it is rare)."""

    dist: str = "fixed"
    mean: float = 128.0
    cv: float = 0.0
    low: int = 1
    high: int = 1


@dataclass(frozen=True)
class Schedule:
    """Which domain each request comes from: ``mix`` draws i.i.d. with ``weights`` (equal if
    empty); ``blocks`` serves ``block_records`` records of each domain in turn (the OSD paper's
    2,000-record blocks), cycling."""

    kind: str = "mix"
    weights: tuple[float, ...] = ()
    block_records: int = 2000


@dataclass(frozen=True)
class Workload:
    # poisson | gamma (gaps with coefficient of variation cv) | constant | replay | closed (a fixed
    # number of clients, each sending its next request think_s after the last one finished: what
    # `vllm bench serve --max-concurrency` and batch sweeps measure)
    arrival: str = "poisson"
    rate: float = 2.0  # requests per second (whole cluster)
    cv: float = 1.0  # gamma arrivals: coefficient of variation of the gaps (1 = Poisson)
    file: str | None = None  # replay: CSV or JSONL with arrival_s, prompt_tokens, output_tokens[, domain]
    concurrency: int = 1  # closed: clients (requests in flight) across the cluster
    think_s: float = 0.0  # closed: seconds between a response and the client's next request
    num_requests: int | None = 1000
    duration_s: float | None = None  # instead of num_requests: arrivals in [0, duration_s)
    prompt_tokens: LengthDist = LengthDist(mean=128.0)
    output_tokens: LengthDist = LengthDist(mean=128.0)
    domains: tuple[str, ...] = ("default",)
    schedule: Schedule = Schedule()
    # lengths from real conversations instead of prompt_tokens/output_tokens (osdsim.trace.lengths):
    # "sharegpt" (counted in `tokenizer`'s tokens) or a CSV with prompt_tokens, output_tokens
    dataset: str | None = None
    tokenizer: str | None = None


@dataclass(frozen=True)
class AcceptanceSpec:
    model: str = "constant"
    alpha: float = 0.7  # constant: α for every domain not in by_domain
    by_domain: Mapping[str, float] = field(default_factory=dict)  # constant: α per domain
    alphas: tuple[float, ...] = ()  # per_position: α_1..α_k
    trace: str | None = None  # empirical: a trace JSONL, or a CSV with domain, gamma, accepted
    curves: str | None = None  # learning_curve: path to a <trace>.curves.json
    domains: Mapping[str, Any] | None = None  # learning_curve: inline curves per domain


@dataclass(frozen=True)
class Online:
    update_interval: int = 8  # I: records between draft updates (OSD's online scripts use 8)
    mode: str = "spare"  # spare: rides in idle FLOPs | exclusive: takes the replica
    interference: float = 0.1  # spare mode: serving steps run this fraction slower during an update
    buffer_size: int = 100_000  # most mismatched positions kept for one update (oldest dropped)
    loss: str = "fkl"  # informational: the learning curve measured with this loss
    lr: float = 1e-4  # informational, as above (OSD online runs: AdamW, lr 1e-4)


@dataclass(frozen=True)
class CostSpec:
    model: str = "auto"  # auto | roofline | measured | constant (see COST_MODELS)
    forward_s: Mapping[str, float] = field(default_factory=dict)  # constant: seconds per forward by model
    capacity_flops_per_s: float = 1e15  # constant: the spare-compute ceiling
    update_s_per_token: float = 0.0  # constant: update seconds per buffered token


@dataclass(frozen=True)
class Slo:
    ttft_s: float = math.inf
    tpot_s: float = math.inf


@dataclass(frozen=True)
class Scenario:
    seed: int = 0
    target: Any = "vicuna-7b-v1.3"  # an LLM card name (osdsim/cards/llm) or path, or (API) a ModelSpec
    # the same, a draft mapping (osdsim.sim.scenario_draft: n-gram, head, self, trees), or None
    # (TOML: "none" or false): plain decoding
    draft: Any = "llama-160m"
    hardware: Any = "a100-80g"  # a hardware card name (osdsim/cards/hardware) or path, or (API) a HardwareSpec
    replicas: int = 1
    max_batch: int = 64
    gamma: int | str = 5  # an integer, or "goodput" (per-step γ maximising expected tokens/s)
    max_gamma: int = 8  # goodput policy searches 0..max_gamma
    gamma_policy: Any = None  # a PolicySpec (osdsim.sim.scenario_draft); None: from gamma
    tp: int = 1
    draft_tp: int = 1  # tensor parallelism of the draft (vLLM: speculative_draft_tensor_parallel_size)
    framework: str | None = None  # a framework card (osdsim/cards/framework) or path; None: cost.framework.DEFAULT_FRAMEWORK
    dtype: str | None = None  # None: the card's default dtype
    draft_dtype: str | None = None  # None: the same as dtype
    router: str = "round_robin"
    draft_per_domain: bool = False  # one draft (and distiller) per domain on each replica
    kv_reserve: float = 0.1  # fraction of memory kept off the KV cache (vLLM's 0.9 utilisation)
    kv_tokens: float | None = None  # override the KV capacity (tokens per replica)
    prefill_chunk: int | None = None  # chunked prefill: prompt tokens per iteration (None: whole prompts)
    context_bucket: int = 16  # mean context rounded to this many tokens when pricing (cache hits)
    horizon_s: float | None = None  # stop the clock here; requests still in flight are unfinished
    workload: Workload = Workload()
    acceptance: AcceptanceSpec = AcceptanceSpec()
    online: Online | None = None
    cost: CostSpec = CostSpec()
    slo: Slo = Slo()
    method: str | None = None  # the speculation method applied (osdsim.sim.scenario_methods), for the record
    base_dir: str = "."  # folder relative paths resolve against (not a file field)

    @property
    def speculative(self) -> bool:
        return self.draft is not None and self.gamma != 0

    def resolve(self, path: str) -> str:
        p = Path(path)
        return str(p if p.is_absolute() or p.exists() else Path(self.base_dir) / p)

    def plain(self) -> Scenario:
        """The same workload and seed, decoded without a draft (the baseline)."""
        return replace(self, draft=None, gamma=0, online=None)
