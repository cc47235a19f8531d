"""Scratch directories that are removed on exit, Ctrl-C and SIGTERM, and a finder for stale ones."""

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
    path = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))
    try:
        with _sigterm_raises():
            yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists but belongs to someone else, or we cannot tell: keep it
    return True


def stale_scratch_dirs(parent: str | os.PathLike[str] | None = None, prefix: str = DEFAULT_PREFIX) -> list[Path]:
    """Scratch directories under ``parent`` whose creating process is gone (left by a hard kill)."""
    base = Path(parent) if parent is not None else Path(tempfile.gettempdir())
    pattern = re.compile(rf"^{re.escape(prefix)}(\d+)-")
    stale = []
    for entry in sorted(base.iterdir()) if base.is_dir() else []:
        match = pattern.match(entry.name)
        if match and entry.is_dir() and not _pid_alive(int(match.group(1))):
            stale.append(entry)
    return stale
