"""Real draft/target runs with PyTorch and transformers: the only osdsim code importing them.

Submodules import torch at module level, so import them only where a real run is wanted:
``speculative`` (speculative and plain decoding, KV caches), ``sampling`` (greedy and Leviathan
acceptance on tensors), ``cache`` (rollback across transformers versions), ``losses``,
``online`` (the OSD stream and draft updater), ``offline`` (offline distillation), ``small``
(osdsim's own small models), ``loading`` and ``pair`` (local Hugging Face directories), ``stream``
and ``corpus`` (domain schedules and their text; ``corpus`` needs no torch), ``datasets`` (real
prompts: ShareGPT chat by language, HumanEval, questions; no torch), ``pretrained`` (a pretrained
target from the package registry, converted once into the cache), ``env`` (torch
import and timing), ``proposers`` (draft model, n-gram lookup, self-speculation), ``workflow``
(what ``osdsim run`` does) and ``model_workflows`` (``train``, ``distill``, ``profile``); the two
workflows import torch only inside their functions. This package's ``__init__`` imports nothing
heavy. Files written here: the model cache of ``small``, and, at paths the caller passes, a
run's trace and draft checkpoint (written as the run goes, so that it can resume) and a distilled
draft (``model_workflows.save_draft``).
"""
