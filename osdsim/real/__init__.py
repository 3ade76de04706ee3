"""Real draft/target runs with PyTorch and transformers: the only osdsim code importing them.

Submodules import torch at module level, so import them only where a real run is wanted:
``osdsim.real.speculative`` (speculative and plain decoding), ``osdsim.real.losses``,
``osdsim.real.online`` (OSD stream), ``osdsim.real.offline`` (offline distillation),
``osdsim.real.small`` (osdsim's own small models), ``osdsim.real.corpus`` (text, no torch),
``osdsim.real.loading`` (local Hugging Face directories). This package's ``__init__`` imports
nothing heavy.
"""
