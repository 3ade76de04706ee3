"""Model and hardware cards: frozen dataclasses and the loaders for the cards in ``osdsim/cards/*/*.yaml``."""

from osdsim.specs.cards import (
    CardError,
    card_from_mapping,
    card_names,
    card_path,
    load_framework,
    load_hardware,
    load_model,
    models_dir,
)
from osdsim.specs.framework import FrameworkSpec
from osdsim.specs.hardware import DTYPE_BYTES, HardwareSpec
from osdsim.specs.model import ModelSpec

__all__ = [
    "DTYPE_BYTES",
    "CardError",
    "card_from_mapping",
    "card_path",
    "FrameworkSpec",
    "HardwareSpec",
    "ModelSpec",
    "card_names",
    "load_framework",
    "load_hardware",
    "load_model",
    "models_dir",
]
