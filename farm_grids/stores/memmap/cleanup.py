"""cleanup_stale: remove the files of stores no live process holds, judged by their locks."""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from farm_grids.errors import FarmGridsError, StorageDirectoryError
from farm_grids.stores.memmap.files import GRID_FILE, MANIFEST_FILE, STORE_TEMP_FILE
from farm_grids.stores.memmap.locks import READER_BYTE, WRITER_BYTE, StoreLock, is_held
from farm_grids.stores.memmap.manifest import read_manifest

__all__ = ["CleanupReport", "cleanup_stale"]


@dataclass(frozen=True)
class CleanupReport:
    """What ``cleanup_stale`` removed from a directory."""

    removed: tuple[Path, ...]
    bytes_freed: int
    kept: int

    def __str__(self) -> str:
        return f"removed {len(self.removed)} stale files ({self.bytes_freed} bytes), kept {self.kept}"


def _token(name: str) -> str | None:
    """The ``p<pid>-<token>`` owner key a store file carries in its name, if it is one."""
    for pattern in (GRID_FILE, MANIFEST_FILE, STORE_TEMP_FILE):
        match = pattern.search(name)
        if match is not None:
            return f"p{match.group('pid')}-{match.group('token')}"
    return None


def _is_lock(name: str) -> bool:
    match = MANIFEST_FILE.search(name)
    return match is not None and match.group("lock") is not None


def _live(lock: Path) -> bool:
    return is_held(lock, WRITER_BYTE) or is_held(lock, READER_BYTE)


def cleanup_stale(directory: str | os.PathLike[str], *, dry_run: bool = False) -> CleanupReport:
    """Remove grid files, manifests, lock and temp files of stores that no process holds.

    A store is live while a writer or a reader holds its lock (an OFD lock on the inode),
    so liveness holds across PID namespaces and pid reuse, where a pid check is blind.
    Files a live store's manifest lists are kept whatever their names say (a reopened
    run's grids). A stale store's manifest goes before its grid files, so a kill here
    never leaves a manifest naming a missing file. ``dry_run`` removes nothing.
    """
    if not isinstance(directory, (str, os.PathLike)) or not str(directory).strip():
        raise StorageDirectoryError(f"cleanup_stale needs a directory path, got {directory!r}")
    root = Path(directory)
    if not root.is_dir():
        raise StorageDirectoryError(f"{str(root)!r} is not a directory")
    groups: dict[str, list[Path]] = defaultdict(list)
    for entry in sorted(root.iterdir()):
        token = _token(entry.name)
        if token is not None and entry.is_file() and not entry.is_symlink():
            groups[token].append(entry)
    live = {token for token, files in groups.items() if any(_is_lock(p.name) and _live(p) for p in files)}
    if not dry_run and set(groups) - live and _read_only(root):
        # Checked before the first file: an archive on read-only media is refused whole.
        raise StorageDirectoryError(
            f"{str(root)!r} is on a read-only filesystem: nothing was removed "
            f"({len(set(groups) - live)} stale stores; dry_run=True lists their files)"
        )
    protected = _listed_by_live_manifests(groups, live)
    removed: list[Path] = []
    freed = kept = 0
    for token, files in groups.items():
        if token in live:
            kept += len(files)
            continue
        locks = [p for p in files if _is_lock(p.name)]
        # Hold every lock of the group (writer and reader bytes) while deleting, so no
        # writer or reader can open the store half-way through.
        held = [StoreLock.acquire_cleaner(p) for p in locks] if not dry_run else []
        if any(lock is None for lock in held):
            kept += len(files)
            _release(held)
            continue
        doomed = [p for p in files if p not in protected and not _is_lock(p.name)]
        kept += len(files) - len(doomed) - len(locks)
        # Manifests first, then grid and temp files, locks last.
        doomed.sort(key=lambda p: 0 if MANIFEST_FILE.search(p.name) else 1)
        for path in doomed + locks:
            size = _size(path)
            if size is None:
                continue
            if not dry_run and path not in locks:
                try:
                    path.unlink()
                except FileNotFoundError:
                    continue  # another cleaner got there first
                except OSError as exc:  # the directory turned unwritable (remounted read-only) meanwhile
                    _release(held)
                    raise StorageDirectoryError(f"cannot remove stale file {str(path)!r}: {exc}") from exc
            removed.append(path)
            freed += size
        _release(held, unlink=True)
    return CleanupReport(removed=tuple(removed), bytes_freed=freed, kept=kept)


def _listed_by_live_manifests(groups: dict[str, list[Path]], live: set[str]) -> set[Path]:
    protected: set[Path] = set()
    for token in live:
        for path in groups[token]:
            if MANIFEST_FILE.search(path.name) and not _is_lock(path.name):
                try:
                    recorded = read_manifest(path)
                except (FarmGridsError, OSError):
                    continue
                protected.update(path.parent / entry.file_name for entry in recorded.grids.values())
    return protected


def _read_only(directory: Path) -> bool:
    return bool(os.statvfs(directory).f_flag & os.ST_RDONLY)


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


def _release(locks: list[StoreLock | None], *, unlink: bool = False) -> None:
    for lock in locks:
        if lock is not None:
            lock.release(unlink=unlink)

