"""Process memory and I/O counters from /proc and getrusage; None wherever the platform cannot tell."""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap
import os
from pathlib import Path

import numpy as np

SMAPS_ROLLUP = "/proc/self/smaps_rollup"
SMAPS = "/proc/self/smaps"
MAPS = "/proc/self/maps"
STATUS = "/proc/self/status"
PAGE = mmap.PAGESIZE
STATUS_KEYS = ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem", "VmSwap")
_UNITS = {"kB": 1024, "B": 1}


def _parse_kb_line(line: str) -> tuple[str, int] | None:
    """Parse 'Key:   123 kB' into ('Key', 125952); other lines give None."""
    key, sep, rest = line.partition(":")
    fields = rest.split()
    if not sep or not fields or not fields[0].isdigit():
        return None
    unit = _UNITS.get(fields[1], None) if len(fields) > 1 else 1
    return (key.strip(), int(fields[0]) * unit) if unit is not None else None


def _read_text(path: str | os.PathLike[str]) -> str | None:
    try:
        return Path(path).read_text()
    except OSError:  # no /proc (macOS, Windows) or a kernel without this file
        return None


def read_smaps_rollup(path: str | os.PathLike[str] = SMAPS_ROLLUP) -> dict[str, int] | None:
    """Totals of /proc/self/smaps_rollup in bytes (Rss, Pss, Pss_Anon, Pss_File, Anonymous, ...)."""
    text = _read_text(path)
    if text is None:
        return None
    parsed = (_parse_kb_line(line) for line in text.splitlines()[1:])  # line 1 is the [rollup] header
    totals = dict(item for item in parsed if item is not None)
    return totals or None


def read_status(path: str | os.PathLike[str] = STATUS) -> dict[str, int] | None:
    """Memory lines of /proc/self/status in bytes: VmRSS, VmHWM, RssAnon, RssFile, RssShmem, VmSwap."""
    text = _read_text(path)
    if text is None:
        return None
    values = {}
    for line in text.splitlines():
        item = _parse_kb_line(line)
        if item is not None and item[0] in STATUS_KEYS:
            values[item[0]] = item[1]
    return values or None


def mapping_rss_bytes(file_path: str | os.PathLike[str], smaps_path: str | os.PathLike[str] = SMAPS) -> int | None:
    """Resident bytes of every mapping of ``file_path`` in this process (0 if not mapped, None if unknown)."""
    text = _read_text(smaps_path)
    if text is None:
        return None
    target = os.path.realpath(file_path)
    total = 0
    in_target = False
    for line in text.splitlines():
        first = line.split(maxsplit=5)
        # A mapping header starts with an address range such as '7f..-7f.. r--s ...'.
        if first and "-" in first[0] and ":" not in first[0]:
            path = first[5].removesuffix(" (deleted)") if len(first) == 6 else ""
            in_target = path == target
        elif in_target and line.startswith("Rss:"):
            item = _parse_kb_line(line)
            total += item[1] if item is not None else 0
    return total


def rusage_io() -> tuple[int, int] | None:
    """(ru_inblock, ru_majflt) of this process: 512-byte blocks read from disk and major page faults."""
    try:
        import resource  # POSIX only
    except ImportError:
        return None
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return int(usage.ru_inblock), int(usage.ru_majflt)


def evict_from_page_cache(path: str | os.PathLike[str]) -> bool:
    """Flush ``path`` and ask the kernel to drop its cached pages; False where that is not possible.

    Pages still mapped by some process stay resident, so drop the mapping first.
    """
    advise = getattr(os, "posix_fadvise", None)
    if advise is None:
        return False
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        try:
            fd = os.open(path, os.O_RDONLY)  # read-only file: nothing dirty of ours to fsync
        except OSError:
            return False
    try:
        os.fsync(fd)  # dirty pages cannot be dropped until they are written back
        advise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def evict_mapped_file(path: str | os.PathLike[str], maps_path: str | os.PathLike[str] = MAPS) -> bool:
    """``evict_from_page_cache`` for a file this process still maps (an open memmap store).

    Drops this process's page-table entries over the file's mappings first (madvise
    MADV_DONTNEED: a shared file mapping keeps its data in the file, dirty pages are written
    back by the fsync that follows), since the kernel never evicts mapped pages.
    """
    ranges = file_mappings(path, maps_path)
    advice = getattr(mmap, "MADV_DONTNEED", None)
    if ranges is None or _MADVISE is None or advice is None:
        return False
    for start, end in ranges:
        if _MADVISE(start, end - start, advice) != 0:  # type: ignore[operator]
            return False
    return evict_from_page_cache(path)


def file_allocated_bytes(path: str | os.PathLike[str]) -> int | None:
    """Bytes actually allocated on disk for ``path`` (st_blocks * 512); small for a sparse file."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    blocks = getattr(info, "st_blocks", None)
    return None if blocks is None else int(blocks) * 512


def file_mappings(file_path: str | os.PathLike[str], maps_path: str | os.PathLike[str] = MAPS) -> list[tuple[int, int]] | None:
    """``(start, end)`` addresses of every mapping of ``file_path`` in this process; None without /proc."""
    text = _read_text(maps_path)
    if text is None:
        return None
    target = os.path.realpath(file_path)
    found = []
    for line in text.splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and fields[5].removesuffix(" (deleted)") == target:
            start, _, end = fields[0].partition("-")
            found.append((int(start, 16), int(end, 16)))
    return found


def _libc_function(name: str, argtypes: tuple[object, ...]) -> object | None:
    """A libc function through ctypes (our own binding: the engine's is what gets measured), or None."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    except OSError:
        return None
    function = getattr(libc, name, None)
    if function is not None:
        function.argtypes = argtypes
        function.restype = ctypes.c_int
    return function


_MINCORE = _libc_function("mincore", (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p))
_MADVISE = _libc_function("madvise", (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int))
_MINCORE_STEP = 1 << 18  # pages per call: a 1 MiB vector however large the mapping


def resident_pages(start: int, end: int) -> int | None:
    """Pages of ``[start, end)`` (a mapping of this process) that are in the page cache, by mincore(2)."""
    if _MINCORE is None:
        return None
    pages = -(-(end - start) // PAGE)
    vector = (ctypes.c_ubyte * min(pages, _MINCORE_STEP))()
    total = 0
    for first in range(0, pages, _MINCORE_STEP):
        count = min(_MINCORE_STEP, pages - first)
        if _MINCORE(start + first * PAGE, count * PAGE, vector) != 0:  # type: ignore[operator]
            return None
        total += int(np.count_nonzero(np.frombuffer(vector, dtype=np.uint8, count=count) & 1))
    return total


def mincore_bytes(file_path: str | os.PathLike[str], maps_path: str | os.PathLike[str] = MAPS) -> int | None:
    """Page-cache bytes resident under this process's mappings of ``file_path`` (0 if unmapped; None if unknown).

    mincore counts what is cached, mapped in this process's page tables or not (pages read
    ahead, or prefetched and not yet faulted in, included), so it is never below smaps' Rss.
    """
    ranges = file_mappings(file_path, maps_path)
    if ranges is None:
        return None
    total = 0
    for start, end in ranges:
        pages = resident_pages(start, end)
        if pages is None:
            return None
        total += pages
    return total * PAGE
