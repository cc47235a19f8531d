"""Reopening a memmap store from its manifest: lock first, check every entry and file, map, then register."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from farm_grids.errors import GridFileMismatchError, InvalidGridSpecError, LayoutMismatchError, UncleanShutdownWarning
from farm_grids.stores.files import lock_file_name
from farm_grids.stores.locks import WRITER_BYTE, StoreLock, is_held
from farm_grids.stores.manifest import Manifest, read_manifest
from farm_grids.stores.mapped_file import MappedFile
from farm_grids.stores.opening import checked_files
from farm_grids.stores.tiled import DEFAULT_TILE
from farm_grids.stores.validation import validate_dtype, validate_mode

if TYPE_CHECKING:
    from farm_grids.stores.memmap import MemmapStore

__all__ = ["reopen"]


def reopen(
    cls: type[MemmapStore],
    manifest_path: str | os.PathLike[str],
    mode: str,
    *,
    expect: Mapping[str, tuple[tuple[int, int], object]] | None,
    layout: str | None,
    access: str,
    prefetch: bool,
) -> MemmapStore:
    """See ``MemmapStore.open``."""
    chosen = validate_mode(mode)
    if chosen == "w+":
        raise InvalidGridSpecError("open() takes mode 'r+' or 'r'; 'w+' would discard the data")
    if not isinstance(manifest_path, (str, os.PathLike)):
        raise InvalidGridSpecError(f"manifest_path must be a path, got {manifest_path!r}")
    manifest = Path(manifest_path).resolve()
    if not manifest.is_file():
        read_manifest(manifest)  # the typed error for a missing or odd manifest, before any lock file
    lock_path = manifest.parent / lock_file_name(manifest.name)
    lock = StoreLock.acquire_writer(lock_path) if chosen == "r+" else StoreLock.acquire_reader(lock_path)
    files: dict[str, MappedFile] = {}
    store: MemmapStore | None = None
    try:
        recorded = read_manifest(manifest)  # read under the lock: a writer cannot be mid-rewrite
        _check_expected(manifest, recorded, expect)
        found_layout, tile = _recorded_layout(manifest, recorded, layout)
        for name, entry, path, identity in checked_files(manifest, recorded):
            files[name] = MappedFile.open_existing(path, entry.file_bytes, writable=chosen == "r+", identity=identity)
        store = cls(manifest.parent, simulation_id=recorded.simulation_id, namespace=recorded.namespace,
                    default_mode=chosen, layout=found_layout, tile_size=tile or DEFAULT_TILE, access=access,
                    prefetch=prefetch)
        store._manifest_path, store._lock, store._generation = manifest, lock, recorded.generation
        store._was_clean = recorded.clean is not False
        for name, entry in recorded.grids.items():
            files[name].advise_access(store.access)
            cells = entry.file_bytes // entry.dtype.itemsize
            store._register(store._new_buffer(name, entry.shape, entry.dtype, chosen, 0.0,
                                              files[name].buffer(entry.dtype, cells),
                                              manifest.parent / entry.file_name, files[name]))
        if chosen == "r+":
            store._record_change(added=[store._entries[n].info for n in store._entries])  # now open: not clean
        writer_active = chosen == "r" and is_held(lock_path, WRITER_BYTE)
    except BaseException:
        for mapped in files.values():
            mapped.release()
        if store is not None and store._owner_lock is not None:
            store._owner_lock.release(unlink=True)
        if lock is not None and lock.created:
            lock.release_tidily()  # a refused open leaves the directory as it found it
        elif lock is not None:
            lock.release()  # a lock file it did not make stays, whoever made it
        raise
    if recorded.clean is False and not writer_active:
        warnings.warn(
            f"store {str(manifest)!r} was not closed cleanly (generation {recorded.generation}): "
            "writes after its last flush may be torn",
            UncleanShutdownWarning,
            stacklevel=2,
        )
    return store


def _check_expected(
    manifest: Path, recorded: Manifest, expect: Mapping[str, tuple[tuple[int, int], object]] | None
) -> None:
    for name, (expected_shape, expected_dtype) in (expect or {}).items():
        entry = recorded.grids.get(name)
        if entry is None:
            raise GridFileMismatchError(f"manifest {str(manifest)!r} has no grid {name!r}")
        wanted = validate_dtype(expected_dtype)
        if tuple(expected_shape) != entry.shape or wanted != entry.dtype:
            raise GridFileMismatchError(
                f"grid {name!r} is {entry.shape} {entry.dtype}, expected {tuple(expected_shape)} {wanted}"
            )


def _recorded_layout(manifest: Path, recorded: Manifest, wanted: str | None) -> tuple[str, int]:
    """The one layout (and tile side) every grid of a manifest was written in; ``wanted`` must match it."""
    layouts = {(entry.layout, entry.tile) for entry in recorded.grids.values()} or {("rows", 0)}
    if len(layouts) != 1:
        raise GridFileMismatchError(f"manifest {str(manifest)!r} mixes layouts {sorted(layouts)}")
    (found, tile), = layouts
    if wanted is not None and wanted != found:
        raise LayoutMismatchError(
            f"store {str(manifest)!r} was written with layout {found!r}; it cannot be reopened as {wanted!r}"
        )
    return found, tile
