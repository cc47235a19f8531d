"""Scratch directories that are removed on exit, Ctrl-C and SIGTERM, and a finder for those a hard kill left."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

DEFAULT_PREFIX = "farm-harness-"
# Held (flock, exclusive) by the process that made the directory for as long as it exists: the
# kernel drops the lock when that process dies however it dies, so a lock nobody holds means
# the owner is gone, without guessing from a process id that may have been reused.
LOCK_NAME = ".owner.lock"
_BUILDING = ".building-"  # a directory is built under this prefix and renamed once its lock is held

try:
    import fcntl
except ImportError:  # Windows: no flock; stale directories are then never found (kept, not removed)
    fcntl = None  # type: ignore[assignment]
SIGTERM_EXIT_CODE = 128 + 15  # the shell's convention for "terminated by SIGTERM"


def _raise_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Turning SIGTERM into SystemExit lets `finally` blocks (and so the cleanup) run.
    raise SystemExit(SIGTERM_EXIT_CODE)


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """While inside, SIGTERM raises SystemExit; signal handlers can only be set from the main thread."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def scratch_dir(prefix: str = DEFAULT_PREFIX, parent: str | os.PathLike[str] | None = None) -> Iterator[Path]:
    """Create a temporary directory (its name embeds the pid) and remove it on any exit.

    Removal also happens on KeyboardInterrupt and, in the main thread, on SIGTERM.
    """
    with _sigterm_raises():
        path, lock_fd = _make_owned_dir(prefix, parent)
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)
            if lock_fd is not None:
                os.close(lock_fd)


def _make_owned_dir(prefix: str, parent: str | os.PathLike[str] | None) -> tuple[Path, int | None]:
    """A new directory whose lock file this process holds; it gets its final name only once locked,
    so a finder never sees a directory of ``prefix`` without a held lock while its owner lives."""
    building = Path(tempfile.mkdtemp(prefix=f"{_BUILDING}{prefix}{os.getpid()}-", dir=parent))
    lock_fd = None
    try:
        if fcntl is not None:
            lock_fd = os.open(building / LOCK_NAME, os.O_CREAT | os.O_RDWR, 0o600)
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
        final = building.with_name(building.name.removeprefix(_BUILDING))
        os.rename(building, final)
    except BaseException:
        if lock_fd is not None:
            os.close(lock_fd)
        shutil.rmtree(building, ignore_errors=True)
        raise
    return final, lock_fd


def _owner_alive(directory: Path) -> bool:
    """Whether some process still holds the directory's lock (True when that cannot be told)."""
    if fcntl is None:
        return True
    try:
        fd = os.open(directory / LOCK_NAME, os.O_RDONLY)
    except FileNotFoundError:
        return False  # made before locks, or its owner died before locking: nobody can hold it
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True  # held by its owner (or the lock cannot be taken): keep it
    finally:
        os.close(fd)  # closing also releases a lock this call took
    return False


def stale_scratch_dirs(parent: str | os.PathLike[str] | None = None, prefix: str = DEFAULT_PREFIX) -> list[Path]:
    """Scratch directories under ``parent`` whose creating process is gone (left by a hard kill)."""
    base = Path(parent) if parent is not None else Path(tempfile.gettempdir())
    pattern = re.compile(rf"^{re.escape(prefix)}(\d+)-")
    stale = []
    for entry in sorted(base.iterdir()) if base.is_dir() else []:
        match = pattern.match(entry.name)
        if match and entry.is_dir() and not _owner_alive(entry):
            stale.append(entry)
    return stale
