"""Whether a grid's array is its file: /proc/self/maps ranges, mmap bases, and dense or chunked stores."""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from farm_grids.errors import GridNotDenseError
from farm_grids.managers import GridManager
from farm_grids.stores import GridStore
from harness.workloads.base import WorkloadParams

PROC_MAPS = "/proc/self/maps"
# Small worlds: these checks are about correctness, not speed; 256 random agents hit edges too.
EVIDENCE_AGENTS = 256


@dataclass(frozen=True)
class LayerFile:
    """What was found on disk for one environmental layer."""
    layer: str
    expected_bytes: int  # rows * cols * itemsize
    file_bytes: int | None  # size on disk; None when no file was found
    file_backed: bool  # the array the manager hands out is backed by that file (np.memmap / mmap base)


def _mapped_ranges(path: Path, maps_path: str = PROC_MAPS) -> list[tuple[int, int]] | None:
    """Address ranges of every mapping of ``path`` in this process; None where /proc is missing."""
    try:
        text = Path(maps_path).read_text()
    except OSError:
        return None
    target = os.path.realpath(path)
    ranges = []
    for line in text.splitlines():
        fields = line.split(maxsplit=5)
        # A deleted file shows as "path (deleted)": it no longer counts as backed by ``path``.
        if len(fields) == 6 and fields[5] == target:
            start, _, end = fields[0].partition("-")
            ranges.append((int(start, 16), int(end, 16)))
    return ranges


def _has_mmap_base(array: np.ndarray) -> bool:
    base: object = array
    while base is not None:
        if isinstance(base, mmap.mmap):
            return True
        base = getattr(base, "base", None) or getattr(base, "_mmap", None)
    return False


def array_is_file_backed(array: np.ndarray, path: Path | None) -> bool:
    """True when ``array``'s memory lies inside a mapping of ``path`` (/proc/self/maps),
    or, where /proc is missing, when it is a view of an mmap and the store gave a path."""
    if path is None or not path.exists():
        return False
    ranges = _mapped_ranges(path)
    if ranges is None:
        return _has_mmap_base(array)
    address = array.__array_interface__["data"][0]
    return any(start <= address < end for start, end in ranges)


def manager_layer_files(manager: GridManager, names: tuple[str, ...]) -> tuple[LayerFile, ...]:
    """What is on disk behind each grid ``names`` of ``manager`` (absent grids: no file)."""
    found = []
    for name in names:
        if name not in manager.names():
            found.append(LayerFile(name, 0, None, False))
            continue
        info = manager.store.info(name)
        expected = info.shape[0] * info.shape[1] * np.dtype(info.dtype).itemsize
        path = info.path
        size = path.stat().st_size if path is not None and path.exists() else None
        found.append(LayerFile(name, expected, size, array_is_file_backed(manager.store.get(name), path)))
    return tuple(found)


def file_world_params(directory: Path, size: int, file_backend: str) -> WorkloadParams:
    return WorkloadParams(backend="memmap", size=size, directory=directory, agents=EVIDENCE_AGENTS,
                          file_backend=file_backend)


def has_dense_arrays(store: GridStore) -> bool:
    """Whether ``get()`` hands out the array behind a grid (False: chunked, GridNotDenseError)."""
    for name in store.names():
        try:
            store.get(name)
        except GridNotDenseError:
            return False
        return True
    return True
