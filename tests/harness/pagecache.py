"""Which pages of a file are in the page cache, asked of the kernel with mincore (never from the code under test)."""

from __future__ import annotations

import ctypes
import mmap
import os
import sys
from pathlib import Path

__all__ = ["cached_page_mask", "cached_pages", "mincore_available"]

PAGE = mmap.PAGESIZE


def mincore_available() -> bool:
    return sys.platform.startswith("linux")


def cached_pages(path: Path) -> tuple[int, int]:
    """(pages of ``path`` in the page cache, pages in the file)."""
    mask = cached_page_mask(path)
    return sum(mask), len(mask)


def cached_page_mask(path: Path) -> list[bool]:
    """Whether each page of ``path`` is in the page cache.

    The file is mapped but never touched, so asking does not fault a page in (a read that
    refuses to wait, RWF_NOWAIT, would: it starts readahead of what it cannot return).
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    size = os.path.getsize(path)
    pages = -(-size // PAGE)
    if pages == 0:
        return []
    fd = os.open(path, os.O_RDONLY)
    try:
        address = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        if address in (None, ctypes.c_void_p(-1).value):
            raise OSError(ctypes.get_errno(), f"mmap {path}")
        try:
            vector = (ctypes.c_ubyte * pages)()
            if libc.mincore(address, size, vector) != 0:
                raise OSError(ctypes.get_errno(), f"mincore {path}")
            return [bool(v & 1) for v in vector]
        finally:
            libc.munmap(address, size)
    finally:
        os.close(fd)
