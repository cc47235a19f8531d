"""The page cache seen from a mapping: which pages are resident (mincore), and asking for the rest (WILLNEED)."""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap

import numpy as np

from farm_grids.stores.extents import merge_runs

__all__ = ["PAGE", "needed_pages", "page_runs", "resident"]

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


def page_runs(first: np.ndarray, end: np.ndarray, address: int, total_pages: int) -> tuple[np.ndarray, np.ndarray]:
    """The runs ``[a, b)`` of ``[first, end)`` that are not resident yet, coalesced.

    One mincore over the runs' span, then the missing pages are regrouped into runs, so a
    warm read asks for nothing and a cold one makes one madvise per missing run.
    """
    if first.size == 0:
        return first, end
    lo, hi = int(first[0]), min(int(end[-1]), total_pages)
    wanted = np.zeros(hi - lo + 1, dtype=np.int32)
    np.add.at(wanted, first - lo, 1)
    np.add.at(wanted, np.minimum(end, hi) - lo, -1)
    needed = np.cumsum(wanted[:-1]) > 0
    cached = resident(address, lo, hi - lo)
    if cached is not None:
        needed &= ~cached
    pages = np.flatnonzero(needed) + lo
    return merge_runs(pages, pages)
