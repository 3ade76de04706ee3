"""One writer per output: an exclusive ``fcntl.flock`` on a sidecar ``<path>.lock``.

The lock is taken before a command looks at its output (the "exists" check of ``osdsim run``,
the journal of ``osdsim sweep``) and held until its last file is written, so two processes can
never both pass the check. A second writer is refused at once with one sentence naming the
holder's PID (written into the lock file). The kernel drops the lock when its holder dies, even by
SIGKILL, so a stale lock file never blocks anyone; a clean release removes it. The same process
may take the same lock again (nested writers, ``osdsim demo``). Where ``fcntl`` does not exist
(Windows) locking is skipped.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from osdsim.safe.atomic import check_out_path
from osdsim.safe.numbers import InputError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None


class LockedError(InputError):
    """Another process holds the output's lock."""


def lock_path(path: str | os.PathLike) -> Path:
    target = Path(path)
    return target.with_name(target.name + ".lock")


_HELD: dict[str, list] = {}  # lock path -> [fd, depth] held by this process


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        text = ""
    return f"process {text}" if text.isdigit() else "another process"


class OutputLock:
    """The lock of one output path (a file or a folder); a context manager."""

    def __init__(self, path: str | os.PathLike, what: str = "output"):
        self.target, self.what = Path(path), what
        self.path = lock_path(path)

    def acquire(self) -> OutputLock:
        key = os.path.abspath(self.path)
        if key in _HELD:
            _HELD[key][1] += 1
            return self
        if fcntl is None:  # pragma: no cover
            return self
        check_out_path(self.target, self.what)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = _holder(fd)
                os.close(fd)
                raise LockedError(f"the {self.what} {self.target} is being written by {holder} (lock file "
                                  f"{self.path}); wait for it to finish or choose another path") from None
            try:  # the holder before us may have removed the file after we opened it: lock the current one
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        _HELD[key] = [fd, 1]
        return self

    def release(self) -> None:
        key = os.path.abspath(self.path)
        held = _HELD.get(key)
        if held is None:
            return
        held[1] -= 1
        if held[1] > 0:
            return
        del _HELD[key]
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)  # while still locked: a waiting opener then retries on a fresh file
        os.close(held[0])

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


@contextlib.contextmanager
def locked(*paths: str | os.PathLike | None, what: str = "output") -> Iterator[None]:
    """Hold the locks of every path given (None entries are skipped) for the ``with`` block; a path
    inside another one given (a file in an output folder) is covered by that folder's lock."""
    unique = {os.path.abspath(p): p for p in paths if p}
    unique = {k: v for k, v in unique.items() if not any(k.startswith(other + os.sep) for other in unique)}
    with contextlib.ExitStack() as stack:
        for key in sorted(unique):
            stack.enter_context(OutputLock(unique[key], what))
        yield
