"""A compute device: bandwidth, peak FLOPs per dtype, memory, interconnect and efficiencies."""

from __future__ import annotations

from dataclasses import dataclass, field

# Bytes per element of a weight or KV-cache dtype. GGUF block formats carry their scales:
# Q8_0 = 32 int8 + one fp16 scale per block of 32 (34 B), Q4_0 = 16 B of nibbles + fp16 scale
# (18 B / 32), Q4_K = 144 B per super-block of 256, Q5_K = 176 B / 256, Q6_K = 210 B / 256
# (ggml's ggml-common.h, block_q8_0 ... block_q6_K). nvfp4: 4-bit values + an fp8 scale per 16.
DTYPE_BYTES = {"fp32": 4.0, "tf32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5,
               "nvfp4": 4.5 / 8, "q8_0": 34 / 32, "q6_k": 210 / 256, "q5_k": 176 / 256, "q4_k": 144 / 256,
               "q4_0": 18 / 32}
# The dtype the matmuls run in when weights are stored in a weight-only quantised format (they are
# dequantised on the fly: W4A16, llama.cpp's GGUF kernels).
COMPUTE_DTYPE = {"int4": "fp16", "nvfp4": "fp16", "q8_0": "fp16", "q6_k": "fp16", "q5_k": "fp16",
                 "q4_k": "fp16", "q4_0": "fp16"}


@dataclass(frozen=True)
class HardwareSpec:
    """One accelerator (or CPU) as the roofline sees it.

    Efficiencies scale the spec-sheet peaks to what real kernels reach; the overhead terms
    are the fixed cost of one forward call and of each layer in it (kernel launches, Python),
    which dominate small models in eager PyTorch. ``measured`` holds timing tables that
    calibration writes (rows of model, batch, new_tokens, context, seconds), and
    ``measured_updates`` the draft updates of online runs (rows of model, num_tokens, seconds).
    """

    name: str
    memory_bytes: float
    bandwidth_Bps: float
    peak_flops: dict[str, float]  # dense peak per dtype, FLOP/s
    interconnect_Bps: float = 0.0  # per-GPU bus bandwidth of the GPU-to-GPU link (NVLink), one way
    interconnect_latency_s: float = 5e-6  # fixed cost of one all-reduce
    bandwidth_efficiency: float = 0.8  # achieved / spec-sheet bandwidth
    compute_efficiency: float = 0.7  # achieved / peak FLOP/s on the forward's GEMMs
    overhead_per_forward_s: float = 0.0  # fixed cost of one forward call
    overhead_per_layer_s: float = 0.0  # fixed cost of each layer in a forward
    default_dtype: str = "bf16"
    gpus_per_node: int = 8
    source: str = ""
    measured: tuple = field(default=(), compare=False)
    measured_updates: tuple = field(default=(), compare=False)

    def __post_init__(self) -> None:
        for name in ("memory_bytes", "bandwidth_Bps"):
            if not getattr(self, name) > 0:
                raise ValueError(f"hardware {self.name!r}: {name} must be positive")
        for name in ("bandwidth_efficiency", "compute_efficiency"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ValueError(f"hardware {self.name!r}: {name} must be in (0, 1], got {value!r}")
        for name in ("overhead_per_forward_s", "overhead_per_layer_s", "interconnect_Bps",
                     "interconnect_latency_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"hardware {self.name!r}: {name} must be >= 0")
        if not self.peak_flops or any(v <= 0 for v in self.peak_flops.values()):
            raise ValueError(f"hardware {self.name!r}: peak_flops needs positive values per dtype")
        if self.default_dtype not in self.peak_flops:
            raise ValueError(f"hardware {self.name!r}: default_dtype {self.default_dtype!r} has no peak_flops")

    def flops_for(self, dtype: str) -> float:
        """Peak dense FLOP/s for ``dtype`` (fp16 and bf16 share tensor cores; a weight-only
        quantised dtype computes in the fastest of fp16, bf16 and fp32 — fp32 on Pascal, whose
        fp16 runs at 1/64 rate)."""
        if dtype in COMPUTE_DTYPE:  # dequantised on the fly: the fastest float path the device has
            best = [self.peak_flops[d] for d in ("fp16", "bf16", "fp32") if d in self.peak_flops]
            if best:
                return max(best)
        if dtype in self.peak_flops:
            return self.peak_flops[dtype]
        alias = {"fp16": "bf16", "bf16": "fp16", "tf32": "fp32"}.get(dtype)
        if alias in self.peak_flops:
            return self.peak_flops[alias]
        raise ValueError(f"hardware {self.name!r} has no peak_flops for dtype {dtype!r}; "
                         f"known: {', '.join(sorted(self.peak_flops))}")

    @property
    def ridge_point(self) -> float:
        """FLOPs per byte above which a kernel is compute-bound (default dtype, efficiencies applied)."""
        return (self.flops_for(self.default_dtype) * self.compute_efficiency) / (
            self.bandwidth_Bps * self.bandwidth_efficiency)
