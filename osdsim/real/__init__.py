"""Real draft/target runs with PyTorch and transformers: the only osdsim code importing them.

Submodules import torch at module level, so import them only where a real run is wanted:
``speculative`` (speculative and plain decoding, KV caches), ``sampling`` (greedy and Leviathan
acceptance on tensors), ``cache`` (rollback across transformers versions), ``losses``,
``online`` (the OSD stream and draft updater), ``offline`` (offline distillation), ``small``
(osdsim's own small models), ``loading`` and ``pair`` (local Hugging Face directories), ``stream``
and ``corpus`` (domain schedules and their text; ``corpus`` needs no torch), ``env`` (torch
import and timing). This package's ``__init__`` imports nothing heavy, and nothing here writes
files except the model cache of ``small``.
"""
