"""Checking a manifest's grid files before any is mapped: inside the directory, the right file, once."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterator

from farm_grids.errors import GridFileMismatchError, GridFileMissingError, UnsafeManifestError
from farm_grids.stores.files import parse_grid_file_name
from farm_grids.stores.manifest import Manifest, ManifestEntry

__all__ = ["checked_files"]


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
