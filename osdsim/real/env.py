"""Import torch the way a shared CPU wants it, and time calls honestly."""

from __future__ import annotations

import os
import time
from collections.abc import Callable


def import_torch(num_threads: int | None = None):
    """Import torch with passive OpenMP waiting (REFERENCE.md: spin-waiting stalls 2-thread torch
    when another process shares the cores) and, if given, a thread count."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch

    if num_threads:
        torch.set_num_threads(num_threads)
    return torch


def synchronizer(device: str) -> Callable[[], None]:
    """A function that waits for queued device work (a no-op on CPU)."""
    if str(device).startswith("cuda"):
        import torch

        return torch.cuda.synchronize
    return lambda: None


def clock(sync: Callable[[], None]) -> float:
    sync()
    return time.perf_counter()
