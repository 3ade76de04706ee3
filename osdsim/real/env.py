"""Import torch the way a shared CPU wants it, and time calls honestly."""

from __future__ import annotations

import os
import time
from collections.abc import Callable


def import_torch(num_threads: int | None = None):
    """Import torch with passive OpenMP waiting and, if given, a thread count.

    OMP_WAIT_POLICY=PASSIVE makes idle OpenMP threads sleep instead of spinning (OpenMP 5.0,
    https://www.openmp.org/spec-html/5.0/openmpse55.html); on this project's 2-core development
    VM, spin-waiting 2-thread torch stalled whenever another process shared the cores."""
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


def package_version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return ""


def load_average() -> float | None:
    """The 1-minute load average when the run starts (None where the OS has none): a trace
    recorded on a busy machine carries other processes' time in every step."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def hardware_name(device: str) -> str:
    import platform

    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(torch.device(device))
    return f"{platform.machine()} CPU, {os.cpu_count()} logical cores"
