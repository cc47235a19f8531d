"""Process memory and I/O counters from /proc and getrusage; None wherever the platform cannot tell."""

from __future__ import annotations

import os
from pathlib import Path

SMAPS_ROLLUP = "/proc/self/smaps_rollup"
SMAPS = "/proc/self/smaps"
STATUS = "/proc/self/status"
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


def file_allocated_bytes(path: str | os.PathLike[str]) -> int | None:
    """Bytes actually allocated on disk for ``path`` (st_blocks * 512); small for a sparse file."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    blocks = getattr(info, "st_blocks", None)
    return None if blocks is None else int(blocks) * 512
