"""Fork guard: a forked child lets go of its parent's store locks and may not use the parent's stores.

A child made by ``fork`` (multiprocessing's "fork" start method, joblib, Dask, a bare
``os.fork``) inherits every descriptor of its parent, sharing the parent's open file
descriptions and with them the parent's OFD locks. Anything the child does through them
(unlocking, converting a lock to tidy up, unlinking the lock file) acts on the parent's
lock. So the child closes its copies of the lock descriptors at once (the parent's own
descriptors keep the locks held, and the lock then lives exactly as long as the parent's
hold), and every store remembers the process that opened it: used from another process it
raises ForkedStoreError, and closing it there only closes the child's own descriptors.
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path
from typing import Any, Protocol

from farm_grids.errors import ForkedStoreError
from farm_grids.stores.memmap.locks import StoreLock

__all__ = ["ForkAware", "ForkGuarded", "forked_store_error", "in_forked_child", "track"]


class ForkAware(Protocol):
    """A store that can drop what a forked child inherited of it, without touching the parent's state."""

    def _forget_inherited(self) -> None: ...


# Weak: tracking a store must never keep it (or its mappings) alive.
_LIVE: weakref.WeakSet[ForkAware] = weakref.WeakSet()


def track(store: ForkAware) -> None:
    """Have ``store`` let go of its lock descriptors in every child forked from now on."""
    _LIVE.add(store)


def in_forked_child(opened_by: int) -> bool:
    """Whether this process is not the one (``opened_by``) that opened a store."""
    return os.getpid() != opened_by


def forked_store_error(opened_by: int, manifest: object) -> ForkedStoreError:
    """The error a forked child gets for using its parent's store, saying how to reopen it."""
    return ForkedStoreError(
        f"this store was opened by process {opened_by}; process {os.getpid()} is a fork of it and may not use "
        f"or tidy it (the lock and files stay the parent's): reopen it in this process with "
        f'MemmapStore.open({str(manifest)!r}, mode="r")'
    )


def _after_fork_in_child() -> None:
    for store in list(_LIVE):
        store._forget_inherited()
    _LIVE.clear()  # the parent's stores are not this process's to hand on to its own children


os.register_at_fork(after_in_child=_after_fork_in_child)


class ForkGuarded:
    """Mixin for a file store: refuses use in a forked child, and closes there without touching the parent's state.

    The store sets ``pid`` (the process that opened it), ``_lock`` and ``_owner_lock``, and
    calls ``track(self)``; ``_entries`` hold ``state`` objects with a ``release()`` that closes
    descriptors only; ``_fast`` and ``_fast_tiles`` are the dense stores' unchecked window-read tables.
    """

    pid: int
    manifest_path: Path | None
    _entries: dict[str, Any]
    _fast: dict[str, Any]
    _fast_tiles: dict[str, Any]
    _lock: StoreLock | None
    _owner_lock: StoreLock | None
    _closed: bool

    # Set in the child by the at-fork hook (every store is tracked from its __init__): every data
    # operation checks it, and an attribute read costs nothing beside os.getpid()'s syscall.
    _in_forked_child: bool = False

    def _check_open(self) -> None:
        if self._in_forked_child:
            raise forked_store_error(self.pid, self.manifest_path)
        super()._check_open()  # type: ignore[misc]

    def close_all(self, *, delete_files: bool = False) -> None:
        """Close every grid; in a forked child, only close the child's own descriptors (see module doc)."""
        if not in_forked_child(self.pid):
            super().close_all(delete_files=delete_files)  # type: ignore[misc]
            return
        # No flush (the parent's writes are the parent's to make durable), no manifest rewrite,
        # no unlock and no unlink: the parent still holds and uses all of it.
        for entry in self._entries.values():
            if entry.state is not None:
                entry.state.release()  # the child's descriptor; the mapping stays valid for its arrays
        self._entries.clear()
        self._forget_inherited()
        self._closed = True
        if delete_files:
            raise forked_store_error(self.pid, self.manifest_path)

    def _forget_inherited(self) -> None:
        """In a fresh child: close the lock descriptors, and send every read through the checked path."""
        self._in_forked_child = True
        for lock in (self._lock, self._owner_lock):
            if lock is not None:
                lock.forget()
        self._fast.clear()  # the unchecked in-bounds window reads would skip the process check
        self._fast_tiles.clear()
