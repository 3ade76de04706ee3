"""Processes that end cleanly and never outlive their parent.

- :func:`exit_on_signals`: SIGTERM and SIGHUP raise :class:`Terminated` in the main thread, so
  ``finally`` blocks run (temporary files removed, locks released, worker pools stopped) and the
  command exits with one sentence instead of dying mid-write.
- :func:`die_with_parent`: a worker-process initializer; the worker is killed when its parent
  dies, even by SIGKILL (Linux ``PR_SET_PDEATHSIG``, and a watchdog thread polling the parent's
  PID everywhere).
- :func:`stop_pool`: terminate a ``ProcessPoolExecutor``'s workers now, pending work cancelled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time


class Terminated(BaseException):
    """The process was asked to stop (SIGTERM, SIGHUP); not an ``Exception``, like KeyboardInterrupt."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


_STOP_SIGNALS = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s)


def exit_on_signals(signums=_STOP_SIGNALS) -> dict:
    """Turn the given signals into :class:`Terminated` (main thread only; elsewhere a no-op).
    Returns the handlers replaced, for :func:`restore_signals`."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum, frame):
        raise Terminated(signum)

    return {signum: signal.signal(signum, handler) for signum in signums}


def restore_signals(previous: dict) -> None:
    """Put back the handlers :func:`exit_on_signals` replaced."""
    for signum, handler in previous.items():
        signal.signal(signum, handler if handler is not None else signal.SIG_DFL)


def _watch(parent: int, period_s: float) -> None:
    while True:
        time.sleep(period_s)
        if os.getppid() != parent:
            os._exit(1)


def die_with_parent(parent: int, period_s: float = 0.5) -> None:
    """Initializer of a worker process started by ``parent``: end it when ``parent`` ends."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            pr_set_pdeathsig = 1
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)
    threading.Thread(target=_watch, args=(parent, period_s), daemon=True, name="osdsim-parent-watch").start()


def stop_pool(pool, timeout_s: float = 5.0) -> None:
    """Cancel what a ``ProcessPoolExecutor`` has not started and terminate its workers now."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for proc in processes:
        with contextlib.suppress(Exception):
            proc.terminate()
    with contextlib.suppress(Exception):
        pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + timeout_s
    for proc in processes:
        with contextlib.suppress(Exception):
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join(1.0)
