"""Scratch directories that are removed on exit, Ctrl-C and SIGTERM, and a finder for those a hard kill left."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import shutil
import signal
import stat
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from harness.errors import InputFileError
from harness.results.jsonfiles import check_document, compile_schema

DEFAULT_PREFIX = "farm-harness-"
# Written by the harness into every scratch directory it makes: the only proof `clean` accepts
# that a directory is ours to delete. It names the directory, so a copy elsewhere proves nothing.
MARKER_NAME = ".farm-harness-scratch.json"
MARKER_SCHEMA = "farm-harness/scratch/v1"
MARKER_MAX_BYTES = 4096  # ours are ~150 bytes; a larger file is not ours, and is never read whole
_CHECK_MARKER = compile_schema({
    "type": "object", "required": ["schema", "pid", "token", "name"], "additionalProperties": False,
    "properties": {"schema": {"const": MARKER_SCHEMA}, "pid": {"type": "integer", "minimum": 1},
                   "token": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
                   "name": {"type": "string", "minLength": 1}},
})
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
# Held (flock, exclusive) by the process that made the directory for as long as it exists: the
# kernel drops the lock when that process dies however it dies, so a lock nobody holds means
# the owner is gone, without guessing from a process id that may have been reused.
LOCK_NAME = ".owner.lock"
_BUILDING = ".building-"  # a directory is built under this prefix and renamed once its lock is held


@dataclass(frozen=True)
class ScratchMarker:
    """What the marker in a scratch directory records: the making process, a random token, the directory's name."""

    pid: int
    token: str
    name: str


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
    """A new directory holding a lock file this process holds and our marker; it gets its final name
    only once both are there, so a finder never sees it without a held lock while its owner lives."""
    token = secrets.token_hex(8)
    building = Path(tempfile.mkdtemp(prefix=f"{_BUILDING}{prefix}{os.getpid()}-{token}-", dir=parent))
    final = building.with_name(building.name.removeprefix(_BUILDING))
    lock_fd = None
    try:
        if fcntl is not None:  # locked before the marker exists: a marked directory always has its lock
            lock_fd = os.open(building / LOCK_NAME, os.O_CREAT | os.O_RDWR | _NOFOLLOW, 0o600)
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
        _write_marker(building, ScratchMarker(pid=os.getpid(), token=token, name=final.name))
        os.rename(building, final)
    except BaseException:
        if lock_fd is not None:
            os.close(lock_fd)
        shutil.rmtree(building, ignore_errors=True)
        raise
    return final, lock_fd


def _write_marker(directory: Path, marker: ScratchMarker) -> None:
    fd = os.open(directory / MARKER_NAME, os.O_CREAT | os.O_EXCL | os.O_WRONLY | _NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"schema": MARKER_SCHEMA, **dataclasses.asdict(marker)}, handle)


def read_marker(directory: Path) -> ScratchMarker | None:
    """The marker the harness wrote into ``directory`` when it made it, or None if there is none we wrote.

    None for anything that is not our proof: no marker, a symlink, a FIFO or other non-file, a
    file too large, not JSON, off the marker schema, or naming another directory (a copied marker).
    """
    try:
        if not stat.S_ISDIR(os.lstat(directory).st_mode):
            return None  # a symlink to a directory is never ours to follow
        fd = os.open(directory / MARKER_NAME, os.O_RDONLY | os.O_NONBLOCK | _NOFOLLOW)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MARKER_MAX_BYTES:
            return None
        data = os.read(fd, MARKER_MAX_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    try:
        record = check_document(json.loads(data.decode("utf-8")), _CHECK_MARKER, str(directory), "scratch marker")
    except (ValueError, InputFileError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None
    marker = ScratchMarker(pid=record["pid"], token=record["token"], name=record["name"])
    # The marker names the directory it was written into: a marker copied elsewhere, or a
    # scratch directory the user renamed to keep, is not ours any more.
    if directory.name not in (marker.name, f"{_BUILDING}{marker.name}") or marker.token not in directory.name:
        return None
    return marker


def _claim(directory: Path) -> int | None:
    """Take the directory's lock if its owner is gone: the held fd, else None (owner alive, or unknowable)."""
    if fcntl is None:
        return None
    try:
        fd = os.open(directory / LOCK_NAME, os.O_RDONLY | _NOFOLLOW)
    except OSError:
        return None  # ours always have a lock file: without one, who holds it cannot be told
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None  # held by its owner (or the lock cannot be taken): keep it
    return fd


def _owner_alive(directory: Path) -> bool:
    """Whether some process still holds the directory's lock (True when that cannot be told)."""
    fd = _claim(directory)
    if fd is None:
        return True
    os.close(fd)  # closing also releases the lock this call took
    return False


def stale_scratch_dirs(parent: str | os.PathLike[str] | None = None) -> list[Path]:
    """Scratch directories under ``parent`` that this harness made (they carry its marker) and whose maker is gone.

    A directory is ours only by the marker we wrote into it, never by its name: a user directory
    named like ours, with or without a lock file, is never listed.
    """
    base = Path(parent) if parent is not None else Path(tempfile.gettempdir())
    stale = []
    for entry in sorted(base.iterdir()) if base.is_dir() else []:
        if read_marker(entry) is not None and not _owner_alive(entry):
            stale.append(entry)
    return stale


def remove_stale_scratch(directory: Path) -> bool:
    """Remove ``directory`` if it is still a stale scratch directory of ours; whether it is gone.

    The marker and the owner's lock are checked again and the lock is held while removing, so a
    directory whose owner came back, or that was replaced since it was listed, is kept.
    """
    if read_marker(directory) is None:
        return False
    fd = _claim(directory)
    if fd is None:
        return False
    try:
        shutil.rmtree(directory, ignore_errors=True)  # rmtree never follows symlinks inside
    finally:
        os.close(fd)
    return not os.path.lexists(directory)
