"""Roofline of one forward pass of a decoder-only transformer (GQA aware, tensor parallel).

Time = max(compute, memory) + fixed overhead + all-reduce time, where compute = FLOPs over
peak × efficiency and memory = bytes over bandwidth × efficiency (Williams et al. 2009,
"Roofline"). The overhead term (per call and per layer) is what makes small models in eager
PyTorch far slower than their roofline (REFERENCE.md). Every function broadcasts over numpy
arrays in ``batch``, ``new_tokens`` and ``context``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from osdsim.specs import DTYPE_BYTES, HardwareSpec, ModelSpec

LOGIT_BYTES = 4.0  # logits are written in fp32 by HF and vLLM samplers
# Activation traffic per token per layer, in units of hidden_size elements: residual read and
# write, two norm outputs, q/k/v/o projections' inputs and outputs (~8·h) plus the MLP's
# gate/up/down intermediates (3·intermediate), each read once and written once.
ACT_HIDDEN_TRIPS = 8.0
ACT_INTERMEDIATE_TRIPS = 3.0


@dataclass(frozen=True)
class ForwardCost:
    """Breakdown of one forward pass; every field broadcasts like the inputs."""

    time_s: np.ndarray
    compute_s: np.ndarray
    memory_s: np.ndarray
    overhead_s: np.ndarray
    comm_s: np.ndarray
    flops: np.ndarray
    bytes: np.ndarray
    bound: np.ndarray  # "compute" | "memory" | "overhead"

    @property
    def arithmetic_intensity(self):
        return self.flops / self.bytes


def _validate(batch, new_tokens, context, tp):
    b, k, ctx = (np.asarray(x, dtype=float) for x in (batch, new_tokens, context))
    if np.any(~(b >= 1)):
        raise ValueError("batch must be >= 1")
    if np.any(~(k >= 1)):
        raise ValueError("new_tokens must be >= 1")
    if np.any(~(ctx >= 0)):
        raise ValueError("context must be >= 0")
    if int(tp) != tp or tp < 1:
        raise ValueError("tp (tensor-parallel GPUs) must be a positive integer")
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


def forward_bytes(model: ModelSpec, batch, new_tokens, context, dtype: str = "bf16",
                  kv_dtype: str | None = None, tp: int = 1):
    """Bytes one GPU moves in one forward (weights read once, KV cache read and written).

    Weights and KV heads are split ``tp`` ways (Megatron-style tensor parallelism, Shoeybi et al.
    2019); activations and logits are counted once per GPU.
    """
    b, k, ctx = _validate(batch, new_tokens, context, tp)
    wbytes = DTYPE_BYTES[dtype]
    kvbytes = DTYPE_BYTES[kv_dtype or dtype]
    tokens = b * k
    weights = model.matmul_params * wbytes / tp + tokens * model.hidden_size * wbytes  # + embedding gather
    kv_per_token = model.kv_bytes_per_token(kvbytes) / tp
    kv = b * ctx * kv_per_token + tokens * kv_per_token  # read the cache, write the new entries
    per_layer = ACT_HIDDEN_TRIPS * model.hidden_size + ACT_INTERMEDIATE_TRIPS * model.intermediate_size / tp
    activations = tokens * model.num_layers * per_layer * wbytes
    logits = tokens * model.vocab_size * LOGIT_BYTES / tp
    return weights + kv + activations + logits


def allreduce_s(model: ModelSpec, hw: HardwareSpec, tokens, dtype: str, tp: int):
    """Two ring all-reduces per layer (after attention and after the MLP) of tokens·hidden values.

    A ring all-reduce moves 2(t−1)/t of the message through each GPU's link (Patarasuk & Yuan
    2009), plus a fixed latency per collective.
    """
    if tp == 1:
        return np.zeros_like(np.asarray(tokens, dtype=float))
    if hw.interconnect_Bps <= 0:
        raise ValueError(f"hardware {hw.name!r} has no interconnect bandwidth; tp must be 1")
    message = np.asarray(tokens, dtype=float) * model.hidden_size * DTYPE_BYTES[dtype]
    one = 2.0 * (tp - 1) / tp * message / hw.interconnect_Bps + hw.interconnect_latency_s
    return 2.0 * model.num_layers * one


def forward_cost(model: ModelSpec, hw: HardwareSpec, batch, new_tokens, context,
                 dtype: str | None = None, tp: int = 1) -> ForwardCost:
    """Roofline time of one forward and which bound applies (see module docstring)."""
    dtype = dtype or hw.default_dtype
    if dtype not in DTYPE_BYTES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPE_BYTES)}, got {dtype!r}")
    if model.num_heads % tp:
        raise ValueError(f"tp={tp} does not divide the {model.num_heads} heads of {model.name}")
    flops = forward_flops(model, batch, new_tokens, context)
    nbytes = forward_bytes(model, batch, new_tokens, context, dtype=dtype, tp=tp)
    compute_s = flops / tp / (hw.flops_for(dtype) * hw.compute_efficiency)
    memory_s = nbytes / (hw.bandwidth_Bps * hw.bandwidth_efficiency)
    overhead_s = np.full_like(compute_s, hw.overhead_per_forward_s + model.num_layers * hw.overhead_per_layer_s)
    tokens = np.asarray(batch, dtype=float) * np.asarray(new_tokens, dtype=float)
    comm_s = np.broadcast_to(allreduce_s(model, hw, tokens, dtype, tp), compute_s.shape)
    roof = np.maximum(compute_s, memory_s)
    bound = np.where(overhead_s > roof, "overhead", np.where(compute_s > memory_s, "compute", "memory"))
    return ForwardCost(roof + overhead_s + comm_s, compute_s, memory_s, overhead_s, comm_s,
                       flops, nbytes, bound)


def forward_time(model: ModelSpec, hw: HardwareSpec, batch, new_tokens, context,
                 dtype: str | None = None, tp: int = 1):
    """Seconds for one forward (the ``time_s`` of :func:`forward_cost`)."""
    t = forward_cost(model, hw, batch, new_tokens, context, dtype=dtype, tp=tp).time_s
    return t if np.ndim(t) else float(t)


def weight_bytes(model: ModelSpec, dtype: str = "bf16") -> float:
    """Bytes of all weights (embedding and head counted once each unless tied)."""
    return model.computed_params * DTYPE_BYTES[dtype]


def kv_capacity_tokens(target: ModelSpec, hw: HardwareSpec, tp: int = 1, dtype: str | None = None,
                       draft: ModelSpec | None = None, reserve_fraction: float = 0.1) -> float:
    """KV-cache tokens (target plus draft caches) that fit on a replica after the weights.

    ``reserve_fraction`` of memory is kept for activations and the allocator, as vLLM's
    gpu_memory_utilization = 0.9 does. Returns 0 if the weights alone do not fit.
    """
    dtype = dtype or hw.default_dtype
    usable = hw.memory_bytes * tp * (1.0 - reserve_fraction)
    used = weight_bytes(target, dtype)
    per_token = target.kv_bytes_per_token(DTYPE_BYTES[dtype])
    if draft is not None:
        used += weight_bytes(draft, dtype) * tp  # the draft is replicated on each GPU
        per_token += draft.kv_bytes_per_token(DTYPE_BYTES[dtype])
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
