"""Which pages of a file are in the page cache (mincore over a private read-only mapping), to tell what a step read."""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap
import os
from pathlib import Path

import numpy as np

PAGE = mmap.PAGESIZE


def _mincore() -> object | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    except OSError:
        return None
    function = getattr(libc, "mincore", None)
    if function is not None:
        function.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)
        function.restype = ctypes.c_int
    return function


_MINCORE = _mincore()


def cached_pages(path: Path) -> np.ndarray | None:
    """Indices of ``path``'s pages now in the page cache (None where mincore is unavailable).

    The mapping is our own and never touched, so looking faults nothing in: mincore of a file
    mapping reports the page cache, whoever read the page.
    """
    size = os.stat(path).st_size
    if _MINCORE is None:
        return None
    if size == 0:
        return np.zeros(0, dtype=np.int64)
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), size, prot=mmap.PROT_READ) as mapping:
        vector = np.zeros(-(-size // PAGE), dtype=np.uint8)
        if _MINCORE(_address_of(mapping), size, vector.ctypes.data) != 0:  # type: ignore[operator]
            return None
    return np.flatnonzero(vector & 1).astype(np.int64)


def _address_of(mapping: mmap.mmap) -> int:
    """Start address of a read-only mapping (ctypes cannot take a buffer of a read-only mmap)."""
    array = np.frombuffer(mapping, dtype=np.uint8, count=1)
    address = int(array.__array_interface__["data"][0])
    del array
    return address


def pages_read(before: dict[Path, np.ndarray | None], after: dict[Path, np.ndarray | None]) -> dict[Path, np.ndarray] | None:
    """Pages cached after a step that were not before it, per file (None when either look failed)."""
    found = {}
    for path, pages in after.items():
        earlier = before.get(path)
        if pages is None or earlier is None:
            return None
        found[path] = np.setdiff1d(pages, earlier, assume_unique=True)
    return found


def snapshot(paths: list[Path]) -> dict[Path, np.ndarray | None]:
    return {path: cached_pages(path) for path in paths}
