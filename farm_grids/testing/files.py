"""What the store suite inspects from outside a store: every grid's bytes, its files, leftover temporary files."""

from __future__ import annotations

import hashlib
from pathlib import Path

from farm_grids.stores import GridStore

__all__ = ["TEMP_FILE_MARKERS", "snapshot_arrays", "snapshot_directory", "store_directory", "temp_files_in"]

TEMP_FILE_MARKERS = (".tmp", ".farm-grids-probe-", ".manifest-")


def snapshot_arrays(store: GridStore) -> dict[str, bytes]:
    """Every grid's bytes (through ``read``, which every backend has), to prove a failed call changed nothing."""
    return {name: store.read(name).tobytes() for name in store.names()}


def store_directory(store: GridStore) -> Path | None:
    """The directory a file-backed store keeps its grids in (from a grid's public path)."""
    for name in store.names():
        path = store.info(name).path
        if path is not None:
            return path.parent
    return None


def snapshot_directory(directory: Path) -> dict[str, str]:
    """Every file below ``directory`` (relative name -> sha256 of its content)."""
    if not directory.exists():
        return {}
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def temp_files_in(directory: Path) -> list[str]:
    """Names of leftover temporary files (manifest temp files or write probes).

    A live store's reserved manifest spare (``.spare``) is part of the store, not a leftover.
    """
    return sorted(
        path.name
        for path in directory.rglob("*")
        if any(marker in path.name for marker in TEMP_FILE_MARKERS) and not path.name.endswith(".spare")
    )
