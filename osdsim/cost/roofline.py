"""Roofline of one forward pass of a decoder-only transformer (GQA aware, tensor parallel),
plus what the serving framework adds.

Device time = max(compute, memory) + all-reduce time, where compute = FLOPs over peak ×
efficiency and memory = bytes over bandwidth × efficiency (Williams et al. 2009, "Roofline");
the efficiencies are the hardware card's (what the best kernels reach) times the framework's.
Host time = the framework's work per forward, per layer and per sequence (Python, input
preparation, kernel launches). On a GPU the host queues kernels ahead of the device, so the
forward takes max(device, host) — a small model in eager PyTorch is bound by its launches, a
large one by its memory traffic; on a CPU (``overlap`` False) they add. Then a sync that
cannot overlap. :mod:`osdsim.cost.framework` says which framework applies. Every function
broadcasts over numpy arrays in ``batch``, ``new_tokens`` and ``context``; scalars stay Python
floats (the simulator prices millions of steps through a memo, and its misses call this).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from osdsim.cost.framework import resolve
from osdsim.specs import DTYPE_BYTES, FrameworkSpec, HardwareSpec, ModelSpec
from osdsim.specs.hardware import COMPUTE_DTYPE

LOGIT_BYTES = 4.0  # logits are written in fp32 by HF and vLLM samplers
# Activation traffic per token per layer, in units of hidden_size elements: residual read and
# write, two norm outputs, q/k/v/o projections' inputs and outputs (~8·h) plus the MLP's
# gate/up/down intermediates (3·intermediate), each read once and written once.
ACT_HIDDEN_TRIPS = 8.0
ACT_INTERMEDIATE_TRIPS = 3.0
_SCALARS = (int, float)


@dataclass(frozen=True)
class ForwardCost:
    """Breakdown of one forward pass; every field broadcasts like the inputs."""

    time_s: np.ndarray
    compute_s: np.ndarray
    memory_s: np.ndarray
    overhead_s: np.ndarray  # the framework's host time
    comm_s: np.ndarray
    sync_s: float
    flops: np.ndarray
    bytes: np.ndarray
    bound: np.ndarray  # "compute" | "memory" | "overhead" (host-bound)
    framework: str = ""

    @property
    def arithmetic_intensity(self):
        return self.flops / self.bytes


def _maximum(a, b):
    return max(a, b) if type(a) is float and type(b) is float else np.maximum(a, b)


def _validate(batch, new_tokens, context, tp):
    if int(tp) != tp or tp < 1:
        raise ValueError("tp (tensor-parallel GPUs) must be a positive integer")
    if type(batch) in _SCALARS and type(new_tokens) in _SCALARS and type(context) in _SCALARS:
        b, k, ctx = float(batch), float(new_tokens), float(context)
        if not b >= 1:
            raise ValueError("batch must be >= 1")
        if not k >= 1:
            raise ValueError("new_tokens must be >= 1")
        if not ctx >= 0:
            raise ValueError("context must be >= 0")
        return b, k, ctx
    b, k, ctx = (np.asarray(x, dtype=float) for x in (batch, new_tokens, context))
    if np.any(~(b >= 1)):
        raise ValueError("batch must be >= 1")
    if np.any(~(k >= 1)):
        raise ValueError("new_tokens must be >= 1")
    if np.any(~(ctx >= 0)):
        raise ValueError("context must be >= 0")
    return b, k, ctx


def forward_flops(model: ModelSpec, batch, new_tokens, context):
    """FLOPs of one forward: B sequences, k new tokens each, ``context`` cached tokens before them.

    Dense matmuls cost 2 FLOPs per parameter per token (Kaplan et al. 2020, Table 1), the LM head
    included for every new token; attention costs 2·2·q_dim FLOPs per attended position per layer
    (QKᵀ and AV), each new token attending to context + (k+1)/2 positions on average (causal).
    """
    b, k, ctx = _validate(batch, new_tokens, context, 1)
    tokens = b * k
    dense = 2.0 * model.matmul_params * tokens
    attended = ctx + (k + 1.0) / 2.0
    attention = 4.0 * model.num_layers * model.q_dim * attended * tokens
    return dense + attention


def _act_dtype(dtype: str) -> str:
    # Weight-only quantised models keep fp16 activations and KV cache (llama.cpp, AWQ/GPTQ serving).
    return COMPUTE_DTYPE.get(dtype, dtype)


def forward_bytes(model: ModelSpec, batch, new_tokens, context, dtype: str = "bf16",
                  kv_dtype: str | None = None, tp: int = 1):
    """Bytes one GPU moves in one forward (weights read once, KV cache read and written).

    Weights and KV heads are split ``tp`` ways (Megatron-style tensor parallelism, Shoeybi et al.
    2019); activations and logits are counted once per GPU.
    """
    b, k, ctx = _validate(batch, new_tokens, context, tp)
    wbytes = DTYPE_BYTES[dtype]
    act = DTYPE_BYTES[_act_dtype(dtype)]
    kvbytes = DTYPE_BYTES[kv_dtype or _act_dtype(dtype)]
    tokens = b * k
    weights = model.matmul_params * wbytes / tp + tokens * model.hidden_size * act  # + embedding gather
    kv_per_token = model.kv_bytes_per_token(kvbytes) / tp
    kv = b * ctx * kv_per_token + tokens * kv_per_token  # read the cache, write the new entries
    per_layer = ACT_HIDDEN_TRIPS * model.hidden_size + ACT_INTERMEDIATE_TRIPS * model.intermediate_size / tp
    activations = tokens * model.num_layers * per_layer * act
    logits = tokens * model.vocab_size * LOGIT_BYTES / tp
    return weights + kv + activations + logits


def allreduce_s(model: ModelSpec, hw: HardwareSpec, tokens, dtype: str, tp: int):
    """Two ring all-reduces per layer (after attention and after the MLP) of tokens·hidden values.

    A ring all-reduce moves 2(t−1)/t of the message through each GPU's link (Patarasuk & Yuan
    2009), plus a fixed latency per collective.
    """
    if tp == 1:
        return 0.0 if type(tokens) is float else np.zeros_like(np.asarray(tokens, dtype=float))
    if hw.interconnect_Bps <= 0:
        raise ValueError(f"hardware {hw.name!r} has no interconnect bandwidth; tp must be 1")
    message = tokens * model.hidden_size * DTYPE_BYTES[_act_dtype(dtype)]
    one = 2.0 * (tp - 1) / tp * message / hw.interconnect_Bps + hw.interconnect_latency_s
    return 2.0 * model.num_layers * one


def forward_cost(model: ModelSpec, hw: HardwareSpec, batch, new_tokens, context,
                 dtype: str | None = None, tp: int = 1, framework: str | FrameworkSpec | None = None,
                 kv_dtype: str | None = None) -> ForwardCost:
    """Time of one forward and which bound applies (see the module docstring).

    ``dtype`` is the weights' dtype (default the card's; a weight-only quantised one computes in
    fp16), ``kv_dtype`` the KV cache's (default ``dtype``, or fp16 under a quantised ``dtype``);
    ``framework`` a card name or spec (default: :data:`osdsim.cost.framework.DEFAULT_FRAMEWORK`).
    """
    dtype = dtype or hw.default_dtype
    if dtype not in DTYPE_BYTES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPE_BYTES)}, got {dtype!r}")
    if model.num_heads % tp:
        raise ValueError(f"tp={tp} does not divide the {model.num_heads} heads of {model.name}")
    fw = resolve(framework, hw)
    b, k, ctx = _validate(batch, new_tokens, context, tp)
    flops = forward_flops(model, b, k, ctx)
    nbytes = forward_bytes(model, b, k, ctx, dtype=dtype, kv_dtype=kv_dtype, tp=tp)
    if fw.small_batch_reread:  # small-batch kernels read the weights again every few tokens
        nbytes = nbytes + (fw.weight_passes(b * k) - 1.0) * model.matmul_params * DTYPE_BYTES[dtype] / tp
    compute_s = flops / tp / (hw.flops_for(dtype) * hw.compute_efficiency * fw.compute_efficiency)
    memory_s = nbytes / (hw.bandwidth_Bps * hw.bandwidth_efficiency * fw.bandwidth_efficiency)
    comm_s = allreduce_s(model, hw, b * k, dtype, tp)
    roof = _maximum(compute_s, memory_s)
    device_s = roof + comm_s
    host_s = fw.host_s(model.num_layers, b)
    total = (_maximum(device_s, host_s) if fw.overlap else device_s + host_s) + fw.sync_per_forward_s
    if type(total) is float:
        bound = "overhead" if host_s > roof else "compute" if compute_s > memory_s else "memory"
        host = host_s
    else:
        host = np.broadcast_to(np.asarray(host_s, dtype=float), np.shape(total))
        bound = np.where(host > roof, "overhead", np.where(compute_s > memory_s, "compute", "memory"))
    return ForwardCost(total, compute_s, memory_s, host, comm_s, fw.sync_per_forward_s, flops, nbytes, bound,
                       fw.name)


def forward_time(model: ModelSpec, hw: HardwareSpec, batch, new_tokens, context,
                 dtype: str | None = None, tp: int = 1, framework: str | FrameworkSpec | None = None):
    """Seconds for one forward (the ``time_s`` of :func:`forward_cost`)."""
    t = forward_cost(model, hw, batch, new_tokens, context, dtype=dtype, tp=tp, framework=framework).time_s
    return t if np.ndim(t) else float(t)


def weight_bytes(model: ModelSpec, dtype: str = "bf16") -> float:
    """Bytes of all weights (embedding and head counted once each unless tied)."""
    return model.computed_params * DTYPE_BYTES[dtype]


def kv_capacity_tokens(target: ModelSpec, hw: HardwareSpec, tp: int = 1, dtype: str | None = None,
                       draft: ModelSpec | None = None, reserve_fraction: float = 0.1, draft_tp: int = 1,
                       kv_dtype: str | None = None, draft_dtype: str | None = None) -> float:
    """KV-cache tokens (target plus draft caches) that fit on a replica after the weights.

    ``reserve_fraction`` of memory is kept for activations and the allocator, as vLLM's
    gpu_memory_utilization = 0.9 does. ``draft`` is a card or a drafter. The target's weights and cache split ``tp`` ways, the
    draft's ``draft_tp`` ways; every GPU holds the same number of cache slots (vLLM sizes the
    cache by the GPU with the least free memory), so a GPU holding the draft binds. Returns 0 if
    the weights alone do not fit.
    """
    dtype = dtype or hw.default_dtype
    kv = DTYPE_BYTES[kv_dtype or _act_dtype(dtype)]
    usable = hw.memory_bytes * (1.0 - reserve_fraction)
    used = weight_bytes(target, dtype) / tp
    per_token = target.kv_bytes_per_token(kv) / tp
    if draft is not None:
        if isinstance(draft, ModelSpec):
            used += weight_bytes(draft, draft_dtype or dtype) / draft_tp
            per_token += draft.kv_bytes_per_token(kv) / draft_tp
        else:  # a Drafter (osdsim.cost.drafts): what it adds of its own (a head: one layer; n-gram: nothing)
            used += draft.weight_bytes(draft_dtype or dtype) / draft_tp
            per_token += draft.kv_bytes_per_token(kv) / draft_tp
    return max(0.0, (usable - used) / per_token)


def min_tp(model: ModelSpec, hw: HardwareSpec, dtype: str | None = None,
           reserve_fraction: float = 0.1, max_tp: int = 64) -> int:
    """Fewest GPUs (a power of two dividing the heads) whose memory holds the weights with room for KV."""
    dtype = dtype or hw.default_dtype
    tp = 1
    while tp <= max_tp:
        if model.num_heads % tp == 0 and hw.memory_bytes * tp * (1 - reserve_fraction) > 1.1 * weight_bytes(model, dtype):
            return tp
        tp *= 2
    raise ValueError(f"{model.name} does not fit on {max_tp} GPUs of {hw.name}")
