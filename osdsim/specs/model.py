"""Architecture numbers of a decoder-only transformer, and the parameter count they imply."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSpec:
    """One decoder-only transformer (Llama/Qwen/GPT shaped), GQA aware.

    ``params`` is the published parameter count; :attr:`computed_params` is what the
    architecture numbers give, and the card tests check that they agree within 2%.
    """

    name: str
    num_layers: int
    hidden_size: int
    num_heads: int
    num_kv_heads: int
    intermediate_size: int
    vocab_size: int
    params: float  # published parameter count
    head_dim: int = 0  # 0: hidden_size // num_heads
    tied_embeddings: bool = False
    gated_mlp: bool = True  # SwiGLU: gate, up, down (3 matrices); False: up, down
    qkv_bias: bool = False  # Qwen2.x has biases on q, k, v
    qk_norm: bool = False  # Qwen3 normalises q and k per head
    max_context: int = 4096
    # LM-head rows when fewer than the vocabulary: a draft's frequency-ranked reduced head (FR-Spec,
    # arXiv 2502.14856; EAGLE-3, arXiv 2503.01840; osdsim.real.drafts); 0: the whole vocabulary
    head_vocab: int = 0
    family: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        for field in ("num_layers", "hidden_size", "num_heads", "num_kv_heads",
                      "intermediate_size", "vocab_size"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"model {self.name!r}: {field} must be a positive integer, got {value!r}")
        if self.num_heads % self.num_kv_heads:
            raise ValueError(f"model {self.name!r}: num_heads must be a multiple of num_kv_heads")
        if self.head_dim == 0:
            object.__setattr__(self, "head_dim", self.hidden_size // self.num_heads)
        if not isinstance(self.head_vocab, int) or isinstance(self.head_vocab, bool) or not 0 <= self.head_vocab <= self.vocab_size:
            raise ValueError(f"model {self.name!r}: head_vocab must be 0 (the whole vocabulary) or 1..vocab_size, "
                             f"got {self.head_vocab!r}")
        if not self.params > 0:
            raise ValueError(f"model {self.name!r}: params must be positive, got {self.params!r}")

    @property
    def q_dim(self) -> int:
        return self.num_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.num_kv_heads * self.head_dim

    @property
    def attention_params_per_layer(self) -> int:
        # q and o are hidden x q_dim; k and v are hidden x kv_dim (grouped-query attention).
        weights = 2 * self.hidden_size * self.q_dim + 2 * self.hidden_size * self.kv_dim
        bias = (self.q_dim + 2 * self.kv_dim) if self.qkv_bias else 0
        norms = 2 * self.head_dim if self.qk_norm else 0
        return weights + bias + norms

    @property
    def mlp_params_per_layer(self) -> int:
        return (3 if self.gated_mlp else 2) * self.hidden_size * self.intermediate_size

    @property
    def layer_params(self) -> int:
        """Parameters of one block, two RMSNorms included."""
        return self.attention_params_per_layer + self.mlp_params_per_layer + 2 * self.hidden_size

    @property
    def embedding_params(self) -> int:
        return self.vocab_size * self.hidden_size

    @property
    def lm_head_params(self) -> int:
        return (self.head_vocab or self.vocab_size) * self.hidden_size

    @property
    def computed_params(self) -> int:
        """Total parameters from the architecture numbers (tied head counted once)."""
        head = 0 if self.tied_embeddings and not self.head_vocab else self.lm_head_params
        return self.embedding_params + self.num_layers * self.layer_params + self.hidden_size + head

    @property
    def matmul_params(self) -> int:
        """Parameters that take part in a matmul per token: all blocks plus the LM head.

        The input embedding is a gather (B·k rows read), not a matmul; a tied head still
        multiplies by the whole embedding matrix.
        """
        return self.num_layers * self.layer_params + self.lm_head_params

    def kv_bytes_per_token(self, kv_dtype_bytes: float) -> float:
        """KV-cache bytes one token occupies across all layers (keys and values)."""
        return 2.0 * self.num_layers * self.kv_dim * kv_dtype_bytes
