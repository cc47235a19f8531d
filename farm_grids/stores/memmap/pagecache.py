"""The page cache seen from a mapping: which pages are resident (mincore), and asking for the rest (WILLNEED)."""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap

import numpy as np

from farm_grids.stores.extents import merge_runs

__all__ = ["PAGE", "needed_pages", "resident", "run_pages"]

PAGE = mmap.PAGESIZE
_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_mincore = getattr(_libc, "mincore", None)
if _mincore is not None:
    _mincore.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)
    _mincore.restype = ctypes.c_int


def needed_pages(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted disjoint runs ``[a, b)`` of the pages the byte extents ``[starts, ends)`` cover."""
    if starts.size == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    return merge_runs(starts // PAGE, (ends - 1) // PAGE)


def resident(address: int, first_page: int, pages: int) -> np.ndarray | None:
    """mincore of ``pages`` pages from ``first_page`` of the mapping at ``address``; None if unknown."""
    if _mincore is None or pages <= 0:
        return None
    vector = np.zeros(pages, dtype=np.uint8)
    if _mincore(address + first_page * PAGE, pages * PAGE, vector.ctypes.data) != 0:
        return None
    return (vector & 1).astype(bool)


def run_pages(first: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Every page of the sorted disjoint runs ``[first[i], end[i])``, in order."""
    lengths = end - first
    starts_in_out = np.cumsum(lengths) - lengths
    return np.arange(int(lengths.sum()), dtype=np.int64) + np.repeat(first - starts_in_out, lengths)
