"""Outputs that are never partial: written beside the target, synced, renamed into place.

A file goes to a temporary name in the target's own folder (same file system, so the rename is
atomic), is fsynced, takes the mode a new file would have (or the old file's), and replaces the
target with ``os.replace``; the folder is fsynced after. A process killed at any moment leaves the
old file or the new one, and at worst a hidden ``.<name>.*.tmp*`` file beside it.

A multi-file output (a folder of tables) is written into a temporary folder beside the target and
swapped in whole: Linux's ``renameat2(RENAME_EXCHANGE)`` swaps an existing folder atomically;
elsewhere the old folder is renamed aside first (a kill between the two renames leaves it as
``.<name>.*.old``). A folder holding files the writer does not own is refused, never replaced.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from osdsim.safe.numbers import InputError


def check_out_path(path: str | os.PathLike, what: str = "output") -> Path:
    """``path`` as a Path after making sure its folder exists (created if missing); one sentence
    when an ancestor is a file rather than a folder."""
    target = Path(path)
    for ancestor in reversed(target.parents):
        if ancestor.exists() and not ancestor.is_dir():
            raise InputError(f"cannot write the {what} {target}: {ancestor} is a file, not a folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def _mode(target: Path, fresh: int) -> int:
    """The mode of ``target`` if it exists, else ``fresh`` less the umask (mkstemp makes 0600)."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        return fresh & ~_umask()


def _fsync(path: Path) -> None:
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) if path.is_dir() else os.O_RDONLY
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot sync a folder
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, what: str = "output") -> Iterator[Path]:
    """Yield a temporary path (same folder, same suffix) to write; on a clean exit it replaces
    ``path``. On an exception, or a signal turned into one, the temporary file is removed and
    ``path`` is untouched."""
    target = check_out_path(path, what)
    if target.is_dir():
        raise InputError(f"the {what} {target} is a folder; give a file name")
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=f".tmp{target.suffix}")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        _fsync(tmp)
        os.chmod(tmp, _mode(target, 0o666))
        os.replace(tmp, target)
        _fsync(target.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_text_atomic(path: str | os.PathLike, text: str, what: str = "output") -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_file`)."""
    with atomic_file(path, what) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    return fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def ensure_folder(path: str | os.PathLike, what: str = "output folder") -> Path:
    """``path`` as a folder, created if missing (a folder others also write into, e.g. figures/);
    one sentence when it, or an ancestor, is a file."""
    target = check_out_path(path, what)
    if target.exists() and not target.is_dir():
        raise InputError(f"the {what} {target} is a file; give a folder name")
    target.mkdir(exist_ok=True)
    return target


def check_out_dir(path: str | os.PathLike, owned: Iterable[str] = (), what: str = "output folder") -> Path:
    """``path`` as a Path if it can become an output folder: missing, empty, or holding only the
    names in ``owned``; its parent folder is created. One sentence otherwise."""
    target = check_out_path(path, what)
    if target.exists() and not target.is_dir():
        raise InputError(f"the {what} {target} is a file; give a folder name")
    if target.is_dir():
        owned = set(owned)
        foreign = sorted(p.name for p in target.iterdir() if p.name not in owned)
        if foreign:
            raise InputError(f"the {what} {target} holds other files ({', '.join(foreign[:3])}"
                             f"{', ...' if len(foreign) > 3 else ''}); choose a new or empty folder")
    return target


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, owned: Iterable[str] = (), what: str = "output folder") -> Iterator[Path]:
    """Yield an empty temporary folder to fill; on a clean exit it becomes ``path`` whole.

    ``path`` may be missing, empty, or hold only names in ``owned`` (the files this writer
    produces: an earlier output of the same command); anything else there is refused before any
    work, so a folder of the user's files is never replaced."""
    target = check_out_dir(path, owned, what)
    stage = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    try:
        yield stage
        for item in stage.iterdir():
            _fsync(item)
        os.chmod(stage, _mode(target, 0o777))
        if not target.exists():
            os.rename(stage, target)
        elif not _exchange(stage, target):
            old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".old"))
            os.rmdir(old)
            os.rename(target, old)
            os.rename(stage, target)
            shutil.rmtree(old, ignore_errors=True)
        _fsync(target.parent)
    finally:
        shutil.rmtree(stage, ignore_errors=True)  # the new files after a failure, the old after a swap


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
