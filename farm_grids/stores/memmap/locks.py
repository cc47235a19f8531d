"""Store locks: one writer (exclusive) and many readers (shared) per store, via OFD byte-range locks.

Open-file-description locks (``F_OFD_SETLK``) belong to an open file, not a process: two
stores in one process conflict like two processes do, closing an unrelated descriptor does
not drop them, and they hold across PID namespaces (containers sharing a volume) because
the kernel keeps them on the inode. The writer locks byte 0 of the lock file exclusively;
readers lock byte 1 shared, so readers never block the writer. Anyone can ask whether a
byte is held (``F_OFD_GETLK``) without taking it, which is how ``cleanup_stale`` tells a
live store from a dead one.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import struct
import time
from pathlib import Path

from farm_grids.errors import DiskFullError, FarmGridsError, StoreLockedError, StorageDirectoryError

__all__ = ["READER_BYTE", "WRITER_BYTE", "StoreLock", "is_held", "lock_holder"]

WRITER_BYTE = 0
READER_BYTE = 1
# struct flock on 64-bit Linux: l_type, l_whence (short), l_start, l_len (off_t), l_pid (pid_t).
_FLOCK = struct.Struct("hhqqi4x")
_SETLK = getattr(fcntl, "F_OFD_SETLK", None)
_GETLK = getattr(fcntl, "F_OFD_GETLK", None)
_RETRIES = 5
_HOLDER_WAITS = 100  # x 5 ms: how long a second writer waits to learn who holds the lock


def _request(fd: int, command: int, kind: int, byte: int) -> int:
    answer = fcntl.fcntl(fd, command, _FLOCK.pack(kind, os.SEEK_SET, byte, 1, 0))
    return _FLOCK.unpack(answer)[0]


def _try_lock(fd: int, kind: int, byte: int) -> bool:
    if _SETLK is None:  # no OFD locks (not Linux): whole-file flock, same semantics for one byte
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if kind == fcntl.F_WRLCK else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
    try:
        _request(fd, _SETLK, kind, byte)
    except (BlockingIOError, PermissionError):  # EAGAIN / EACCES: someone holds a conflicting lock
        return False
    return True


def is_held(path: Path, byte: int) -> bool:
    """Whether any open file holds a lock on ``byte`` of ``path`` (without taking it)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:
        return False
    except OSError as exc:  # a symlink (ELOOP) or a lock file we may not read
        raise StorageDirectoryError(f"cannot inspect lock file {str(path)!r}: {exc}") from exc
    try:
        if _GETLK is None:
            if not _try_lock(fd, fcntl.F_WRLCK, byte):
                return True
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        return _request(fd, _GETLK, fcntl.F_WRLCK, byte) != fcntl.F_UNLCK
    finally:
        os.close(fd)


def lock_holder(path: Path) -> str:
    """The holder a lock file records (pid, host, since), for error messages."""
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(info["since"])))
        return f"pid {int(info['pid'])} on {info['host']} since {since}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


class StoreLock:
    """A held writer, reader or cleaner lock on one lock file; ``release`` drops it."""

    def __init__(self, path: Path, fd: int, *, created: bool = False) -> None:
        self.path, self._fd = path, fd
        self.created = created  # this lock made the file (so a failed acquire may remove it)

    @classmethod
    def acquire_writer(cls, path: Path) -> StoreLock:
        """The exclusive writer lock, or StoreLockedError naming the process that holds it."""
        lock = None
        for attempt in range(_HOLDER_WAITS):
            lock = cls._acquire(path, ((fcntl.F_WRLCK, WRITER_BYTE),), writable=True)
            if lock is not None or lock_holder(path) != "another process":
                break
            # No holder recorded yet: a writer between taking the lock and writing its record,
            # or a reader or cleaner tidying up for a moment. Wait for it to say who it is.
            time.sleep(0.005)
        if lock is None:
            raise StoreLockedError(f"store {str(path)!r} is open for writing by {lock_holder(path)}")
        # Record who holds it, for the error message a second writer gets: written before the
        # old record is cut, so a write that fails leaves the file as it was.
        record = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}).encode("utf-8")
        try:
            os.pwrite(lock._fd, record, 0)
            os.ftruncate(lock._fd, len(record))
        except OSError as exc:
            # Nothing may stay behind: the descriptor (a mount would stay busy) nor a lock file we made.
            if lock.created:
                lock.release_tidily()
            else:
                lock.release()
            raise _storage_error(exc, path, "write the lock record") from exc
        return lock

    @classmethod
    def acquire_reader(cls, path: Path) -> StoreLock | None:
        """A shared reader lock; None where the lock file can be neither opened nor made.

        Refused (StoreLockedError) only while ``cleanup_stale`` is deleting the store.
        """
        try:
            lock = cls._acquire(path, ((fcntl.F_RDLCK, READER_BYTE),), writable=False)
        except FarmGridsError:
            raise  # a symlinked or otherwise unusable lock file: never read past it
        except (FileNotFoundError, PermissionError):
            return None  # a read-only directory without a lock file: read unlocked
        if lock is None:
            raise StoreLockedError(f"store {str(path)!r} is being removed by cleanup_stale")
        return lock

    @classmethod
    def acquire_cleaner(cls, path: Path) -> StoreLock | None:
        """Both bytes exclusively (no writer, no reader, none can arrive), or None if either is held."""
        try:
            return cls._acquire(path, ((fcntl.F_WRLCK, WRITER_BYTE), (fcntl.F_WRLCK, READER_BYTE)), writable=True)
        except (FileNotFoundError, PermissionError):
            return None

    @classmethod
    def _acquire(cls, path: Path, wanted: tuple[tuple[int, int], ...], *, writable: bool) -> StoreLock | None:
        """The locks ``wanted`` ((kind, byte) pairs) on the file now at ``path``, or None if held."""
        for _ in range(_RETRIES):
            fd, created = _open_lock_file(path, writable=writable)
            if not all(_try_lock(fd, kind, byte) for kind, byte in wanted):
                os.close(fd)  # closing drops whatever part was taken
                return None
            # The holder of a lock may unlink its file on close: a lock on an unlinked inode
            # protects nothing, so retry on the file now at that path.
            try:
                same = os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return cls(path, fd, created=created)
            os.close(fd)
        return None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self, *, unlink: bool = False) -> None:
        """Drop the lock; ``unlink`` removes the lock file first, while still holding it."""
        if self._fd is None:
            return
        if unlink:
            self.path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None

    def forget(self) -> None:
        """Close this process's descriptor only: no unlock, no unlink (a forked child's copy of a parent's lock).

        The lock belongs to the open file description, which the parent's descriptor keeps
        open: closing a copy never drops it, where an unlock through the copy would.
        """
        self.release(unlink=False)

    def release_tidily(self) -> None:
        """Drop the lock, removing the lock file when no one else holds any part of it.

        Both bytes are taken exclusively first (converting what this file holds), so the
        file is unlinked only while nobody can be using it.
        """
        if self._fd is None:
            return
        if os.O_ACCMODE & fcntl.fcntl(self._fd, fcntl.F_GETFL) == os.O_RDONLY:
            # A reader's read-only open (read-only media, a directory it may not write): it can
            # take no exclusive lock and may remove nothing, so it only lets go.
            self.release()
            return
        unused = all(_try_lock(self._fd, fcntl.F_WRLCK, byte) for byte in (WRITER_BYTE, READER_BYTE))
        self.release(unlink=unused)


def _open_lock_file(path: Path, *, writable: bool) -> tuple[int, bool]:
    """Open (creating if allowed) the lock file, never through a symlink; also whether this call made it."""
    flags = os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW
    try:
        try:
            return os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o644), True
        except FileExistsError:
            return os.open(path, flags), False
    except PermissionError:
        if writable:
            raise
    except FileNotFoundError:
        raise
    except OSError as exc:
        if writable or exc.errno != errno.EROFS:
            raise _storage_error(exc, path, "open lock file") from exc
    # A reader in a directory it cannot write, or on read-only media: an existing lock file
    # opens read-only (a shared lock needs no more); a missing one means reading unlocked.
    return os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW), False


def _storage_error(exc: OSError, path: Path, what: str) -> OSError:
    """The typed error for an OSError on a lock file: a full disk is DiskFullError."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFullError(f"no space left to {what}", str(path))
    return StorageDirectoryError(f"cannot {what} {str(path)!r}: {exc}")
