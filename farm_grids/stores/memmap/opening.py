"""Opening a saved memmap store's files: lock first, read the manifest, check every entry and file, then map them.

``MemmapStore.open`` builds the store on what ``open_files`` returns; nothing here knows the
store class, so the two modules import one way.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

from farm_grids.errors import (
    GridFileMismatchError,
    GridFileMissingError,
    InvalidGridSpecError,
    LayoutMismatchError,
    UnsafeManifestError,
)
from farm_grids.stores.memmap.files import MANIFEST_FILE, lock_file_name, manifest_file_name, parse_grid_file_name
from farm_grids.stores.memmap.locks import StoreLock
from farm_grids.stores.memmap.manifest import Manifest, ManifestEntry, read_manifest
from farm_grids.stores.memmap.mapped_file import MappedFile
from farm_grids.stores.validation import validate_dtype, validate_mode

__all__ = ["OpenedFiles", "checked_files", "find_manifest", "open_files"]


def _resolved_inside(directory: Path, name: str, entry_name: str) -> Path:
    """``directory / name`` with symlinks resolved, refused unless it stays inside ``directory``."""
    candidate = directory / name
    try:
        resolved = candidate.resolve(strict=True)
    except FileNotFoundError:
        raise GridFileMissingError(f"grid file {str(candidate)!r} for {entry_name!r} does not exist") from None
    except (OSError, RuntimeError) as exc:  # a symlink loop, a permission problem
        raise UnsafeManifestError(f"grid file {str(candidate)!r} for {entry_name!r} cannot be resolved: {exc}") from exc
    if resolved.parent != directory:
        raise UnsafeManifestError(
            f"manifest entry {entry_name!r} names {str(candidate)!r}, which resolves to {str(resolved)!r}, "
            f"outside the store directory {str(directory)!r}"
        )
    return resolved


def _check_named(entry_name: str, entry: ManifestEntry, path: Path) -> None:
    named = parse_grid_file_name(path.name)
    if named is None:
        return
    if named["shape"] != entry.shape:
        # Same byte count, other shape (e.g. transposed) would scramble every row.
        raise GridFileMismatchError(
            f"manifest says {entry_name!r} is {entry.shape}, but its file {path.name!r} was created as {named['shape']}"
        )
    if (named["tile"] or 0) != (entry.tile if entry.layout == "tiles" else 0):
        # The same bytes read in another layout would scatter every tile across the grid.
        raise GridFileMismatchError(
            f"manifest says {entry_name!r} is stored {entry.layout}, but its file {path.name!r} says otherwise"
        )
    if named["dtype"] is not None and named["dtype"] != entry.dtype.name:
        # Same itemsize, other dtype (int32 for float32) would reinterpret every bit.
        raise GridFileMismatchError(
            f"manifest says {entry_name!r} is {entry.dtype}, but its file {path.name!r} was created as {named['dtype']}"
        )


def checked_files(manifest: Path, recorded: Manifest) -> Iterator[tuple[str, ManifestEntry, Path, tuple[int, int]]]:
    """``(name, entry, resolved path, (st_dev, st_ino))`` per grid, after checking them all.

    Every check runs before the first item is yielded, so a bad entry anywhere means no
    file is opened at all.
    """
    directory = manifest.parent
    checked: list[tuple[str, ManifestEntry, Path, tuple[int, int]]] = []
    owners: dict[tuple[int, int], str] = {}
    for name, entry in recorded.grids.items():
        path = _resolved_inside(directory, entry.file_name, name)
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeManifestError(f"grid file {str(path)!r} for {name!r} is not a regular file")
        identity = (info.st_dev, info.st_ino)
        if identity in owners:
            raise UnsafeManifestError(f"manifest entries {owners[identity]!r} and {name!r} name the same file")
        owners[identity] = name
        _check_named(name, entry, path)
        if info.st_size != entry.file_bytes:
            raise GridFileMismatchError(
                f"grid file {str(path)!r} holds {info.st_size} bytes; {entry.shape} {entry.dtype} "
                f"({entry.layout}) needs {entry.file_bytes}"
            )
        checked.append((name, entry, path, identity))
    yield from checked


@dataclass(frozen=True)
class OpenedFiles:
    """A manifest read under its lock, with every grid file checked and mapped."""

    manifest: Path
    mode: str
    lock_path: Path
    lock: StoreLock | None  # None where no lock file can be made (read-only media, readers only)
    recorded: Manifest
    layout: str
    tile: int
    files: Mapping[str, MappedFile]

    def release_files(self) -> None:
        for mapped in self.files.values():
            mapped.release()

    def release_lock(self) -> None:
        _let_go(self.lock)


def _let_go(lock: StoreLock | None) -> None:
    """Drop the lock of a refused open."""
    if lock is None:
        return
    if lock.created:
        lock.release_tidily()  # a refused open leaves the directory as it found it
    else:
        lock.release()  # a lock file it did not make stays, whoever made it


def open_files(
    manifest_path: str | os.PathLike[str],
    mode: str,
    *,
    expect: Mapping[str, tuple[tuple[int, int], object]] | None,
    layout: str | None,
) -> OpenedFiles:
    """Lock the store ``manifest_path`` names, then read, check and map every grid file it lists.

    Every check runs before the first file is mapped; on any failure nothing stays mapped
    or locked. See ``MemmapStore.open`` for the rules.
    """
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
    try:
        recorded = read_manifest(manifest)  # read under the lock: a writer cannot be mid-rewrite
        _check_expected(manifest, recorded, expect)
        found_layout, tile = _recorded_layout(manifest, recorded, layout)
        for name, entry, path, identity in checked_files(manifest, recorded):
            files[name] = MappedFile.open_existing(path, entry.file_bytes, writable=chosen == "r+", identity=identity)
    except BaseException:
        for mapped in files.values():
            mapped.release()
        _let_go(lock)
        raise
    return OpenedFiles(manifest, chosen, lock_path, lock, recorded, found_layout, tile, files)


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


def find_manifest(directory: Path, namespace: str, simulation_id: str | None) -> Path:
    """The one manifest in ``directory`` of the store ``namespace`` of run ``simulation_id``."""
    if simulation_id is None:
        raise InvalidGridSpecError("reopening a run in place needs its simulation_id (it names the manifests)")
    stem = manifest_file_name(pid=0, token="0", namespace=namespace, simulation_id=simulation_id).split("_p0-0")[0]
    found = sorted(
        path for path in directory.glob(f"{stem}_p*.json")
        if MANIFEST_FILE.search(path.name) and path.name[: len(stem) + 2] == f"{stem}_p"
    )
    if len(found) != 1:
        raise GridFileMissingError(
            f"expected one {stem}_p<pid>-<token>.json in {str(directory)!r} to reopen, found {len(found)}"
        )
    return found[0]
