"""osdsim: predict what speculative decoding and online speculative decoding do for an LLM service."""

__version__ = "0.1.0"
