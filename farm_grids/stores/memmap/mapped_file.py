"""One grid file: its descriptor, its shared mapping, and the disk blocks reserved before writes."""

from __future__ import annotations

import errno
import mmap
import os
import stat
from pathlib import Path

import numpy as np

from farm_grids.errors import (
    DiskFullError,
    GridFileMismatchError,
    InvalidGridSpecError,
    RequestTooLargeError,
    UnsafeManifestError,
)
from farm_grids.stores.extents import merge_runs
from farm_grids.stores.memmap.known_pages import KnownPages
from farm_grids.stores.memmap.pagecache import PAGE, needed_pages, resident, run_pages

__all__ = ["ACCESS_MODES", "BLOCK_BYTES", "MappedFile", "is_memory_filesystem", "resolve_access"]

ACCESS_MODES = ("auto", "random", "normal")

# Disk space is reserved in blocks of this size: coarse enough that scattered writes make
# few fallocate calls and few extents, fine enough that a sparse grid stays sparse on disk.
BLOCK_BYTES = 64 * 1024
_TMPFS_MAGIC = 0x01021994
# mincore costs ~50 ns a page it looks at on an evicted file and ~85-130 ns on a cached one (a
# 1 GiB file: ~14 ms cold, 22-34 ms cached, measured here); asking for a
# run that is already cached costs ~1-2 us (one madvise, no I/O). So the whole-file check is
# made only on files up to WHOLE_CHECK_PAGES, and a gather looks before it asks only when its
# span is at most _LOOK_PAGES_PER_RUN pages per run it would ask for.
WHOLE_CHECK_PAGES = 1 << 16  # 256 MiB: the check costs <= 6 ms, once per mapping
_LOOK_PAGES_PER_RUN = 16
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def is_memory_filesystem(path: Path) -> bool:
    """True on tmpfs, where even reading a hole allocates a page (and a full one raises SIGBUS)."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as mounts:
            lines = mounts.read().splitlines()
    except OSError:
        return False
    best, kind = "", ""
    target = str(path.resolve())
    for line in lines:
        fields = line.split(" - ")
        if len(fields) != 2:
            continue
        mount_point = fields[0].split()[4]
        if (target == mount_point or target.startswith(mount_point.rstrip("/") + "/")) and len(mount_point) >= len(best):
            best, kind = mount_point, fields[1].split()[0]
    return kind == "tmpfs"


def resolve_access(access: object, prefetch: object) -> tuple[str, bool]:
    """The readahead advice ("random" or "normal") for ``access`` with ``prefetch``, both checked."""
    if access not in ACCESS_MODES:
        raise InvalidGridSpecError(f"unknown access {access!r}; use one of {ACCESS_MODES}")
    if not isinstance(prefetch, bool):
        raise InvalidGridSpecError(f"prefetch must be a bool, got {prefetch!r}")
    # "auto": with prefetch, faults read only their page (the prefetch already asked for
    # what a gather needs; readahead around it would read what nobody asked for).
    return (("random" if prefetch else "normal") if access == "auto" else str(access)), prefetch


def _disk_error(exc: OSError, path: Path, what: str) -> OSError:
    if exc.errno in _NO_SPACE:
        return DiskFullError(f"no space left to {what}", str(path))
    if exc.errno == errno.EFBIG:
        return InvalidGridSpecError(f"{what}: the file would exceed the filesystem's size limit ({path})")
    return exc


def _writable_twin(fd: int, path: Path) -> int | None:
    """A writable descriptor of the same file as ``fd``, or None where that is not allowed."""
    try:
        twin = os.open(path, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return None
    first, second = os.fstat(fd), os.fstat(twin)
    if (first.st_dev, first.st_ino) != (second.st_dev, second.st_ino):
        os.close(twin)
        return None
    return twin


class MappedFile:
    """A file mapped shared and read/write (or read-only) as one grid.

    Dense writes call ``reserve`` first: ``posix_fallocate`` gives the blocks a write will
    touch real disk space, so a full disk is a DiskFullError before the write instead of a
    SIGBUS in the middle of it. On tmpfs reads reserve too (a hole read allocates there).
    ``release`` closes only the descriptor: the mapping stays valid for as long as any
    array over it lives, so a caller's array never points at unmapped memory.
    """

    def __init__(self, path: Path, fd: int, nbytes: int, *, writable: bool) -> None:
        self.path = path
        self.nbytes = nbytes
        self.writable = writable
        self._fd: int | None = fd
        access = mmap.ACCESS_WRITE if writable else mmap.ACCESS_READ
        # mmap of length 0 is an error; a zero-sized grid cannot exist (shapes are positive).
        try:
            self._mapping: mmap.mmap | None = mmap.mmap(fd, nbytes, access=access)
        except OSError as exc:
            # The size checks ran before; another mapping may have taken the room since.
            if exc.errno != errno.ENOMEM:
                raise
            raise RequestTooLargeError(f"cannot map {nbytes} bytes of {str(path)!r}: the process's address "
                                       "space is exhausted (ulimit -v)") from exc
        # The mapping's address, for mincore: a byte view holds no copy, only the export.
        self.address = int(np.frombuffer(self._mapping, dtype=np.uint8).__array_interface__["data"][0])
        self.prefetched_pages = 0  # pages asked for with WILLNEED so far (the cold-read figures)
        # Pages seen resident or asked for through this mapping (a store reopened after an
        # eviction starts with none known).
        self.known = KnownPages(-(-nbytes // PAGE))
        self._whole_checked = False  # the one whole-file mincore was done (it is not repeated)
        self._fresh = False  # known was just read from the whole file: the next prefetch need not look
        self.tiles = None  # the TileGrid over this file when the grid is stored tile-major
        blocks = -(-nbytes // BLOCK_BYTES)
        self._reserved = np.zeros(blocks, dtype=bool)
        self.fully_reserved = False
        # The descriptor fallocate goes through: the mapping's own for a writer. A reader on
        # tmpfs opens a second, writable one where it may: reserving a hole's page there
        # changes no byte of the file, and it keeps a read of a hole on a full tmpfs from
        # raising SIGBUS.
        self._reserve_fd: int | None = fd if writable else None
        self.reserve_reads = is_memory_filesystem(path.parent)
        if self.reserve_reads and not writable:
            self._reserve_fd = _writable_twin(fd, path)
            self.reserve_reads = self._reserve_fd is not None

    # -- opening --------------------------------------------------------------------------
    @classmethod
    def create(cls, path: Path, nbytes: int, *, preallocate: bool = False) -> MappedFile:
        """Create ``path`` sparse (no block, no page touched) and map it; never overwrite a file."""
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            raise _disk_error(exc, path, "create the grid file") from exc
        try:
            os.ftruncate(fd, nbytes)
            if preallocate:
                os.posix_fallocate(fd, 0, nbytes)
            mapped = cls(path, fd, nbytes, writable=True)
        except OSError as exc:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise _disk_error(exc, path, f"allocate {nbytes} bytes for the grid file") from exc
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        if preallocate:
            mapped._mark_all_reserved()
        return mapped

    @classmethod
    def open_existing(
        cls, path: Path, nbytes: int, *, writable: bool, identity: tuple[int, int] | None = None
    ) -> MappedFile:
        """Map an existing regular file of exactly ``nbytes``; never follow a symlink.

        ``identity`` (st_dev, st_ino) is the file checked earlier: a swap in between is refused.
        """
        flags = (os.O_RDWR if writable else os.O_RDONLY) | os.O_CLOEXEC | os.O_NOFOLLOW
        try:
            fd = os.open(path, flags)
        except OSError as exc:
            raise UnsafeManifestError(f"cannot open grid file {str(path)!r} safely: {exc}") from exc
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise UnsafeManifestError(f"{str(path)!r} is not a regular file")
            if identity is not None and (info.st_dev, info.st_ino) != identity:
                raise UnsafeManifestError(f"{str(path)!r} changed while it was being opened")
            if info.st_size != nbytes:
                raise GridFileMismatchError(f"grid file {str(path)!r} holds {info.st_size} bytes, expected {nbytes}")
            return cls(path, fd, nbytes, writable=writable)
        except BaseException:
            os.close(fd)
            raise

    # -- use ------------------------------------------------------------------------------
    def buffer(self, dtype: np.dtype, cells: int) -> np.ndarray:
        """The first ``cells`` cells of the mapping as a 1-D array (read-only when the file is)."""
        assert self._mapping is not None, "released"
        return np.frombuffer(self._mapping, dtype=dtype, count=cells)

    def array(self, shape: tuple[int, int], dtype: np.dtype) -> np.ndarray:
        """A plain ndarray over the whole mapping (read-only when the file is)."""
        assert self._mapping is not None, "released"
        return np.frombuffer(self._mapping, dtype=dtype, count=shape[0] * shape[1]).reshape(shape)

    def advise(self, advice: int) -> None:
        """madvise the whole mapping; the kernel may ignore it (no huge pages here)."""
        if self._mapping is not None:
            try:
                self._mapping.madvise(advice)
            except OSError:
                pass

    def advise_huge_pages(self) -> None:
        """Ask for huge page-cache folios before a grid is written whole.

        A dense grid costs the same memory and disk either way, but mapped in 2 MiB pages its
        window reads miss the TLB as rarely as a RAM array's (numpy asks for huge pages on large
        anonymous arrays). Sparse grids are never advised: there each touched spot would cost a
        2 MiB folio instead of a 4 KiB page. The kernel may ignore this.
        """
        advice = getattr(mmap, "MADV_HUGEPAGE", None)
        if advice is not None:
            self.advise(advice)

    def advise_access(self, access: str) -> None:
        """Kernel readahead for faults: "random" reads only the faulting page, "normal" reads ahead."""
        advice = {"random": getattr(mmap, "MADV_RANDOM", None), "normal": getattr(mmap, "MADV_NORMAL", None)}[access]
        if advice is not None:
            self.advise(advice)

    def fully_resident(self) -> bool:
        """Whether every page of the mapping is known to be cached (one mincore per mapping; False if unknown).

        A warm gather checks this first and skips computing its pages: on a 1024^2 grid the
        page plan of 10,000 windows cost 5x the gather itself. A file of more than
        WHOLE_CHECK_PAGES is not checked whole: it answers False, and gathers learn its pages
        from their own.
        """
        if self._mapping is None:
            return False
        if self.known.all:
            return True
        if self._whole_checked:  # once per mapping: later gathers learn pages from their own spans
            return False
        self._whole_checked = True
        if self.known.bits.size > WHOLE_CHECK_PAGES:
            return False
        cached = resident(self.address, 0, self.known.bits.size)
        if cached is None:
            return False
        self.known.add(0, cached)
        self._fresh = True
        return self.known.all

    def prefetch(self, starts: np.ndarray, ends: np.ndarray) -> int:
        """Ask the kernel to read, in the background, exactly the pages under the byte extents
        that are not resident yet (one madvise(WILLNEED) per run); returns pages asked for.

        Pages already known (``known``) cost no system call, so a warm gather makes none. The
        others are looked up with one mincore of their span when that costs less than asking
        for them blind, and not at all right after the whole-file check (the first gather over
        an evicted 1 GiB file paid three mincores of ~14 ms each before: ~4 us a window).
        """
        fresh, self._fresh = self._fresh, False
        advice = getattr(mmap, "MADV_WILLNEED", None)
        if self._mapping is None or advice is None or starts.size == 0:
            return 0
        first_page, last_page = starts // PAGE, (ends - 1) // PAGE
        if int((last_page - first_page).max()) <= 1 and self.known.cover(first_page, last_page):
            return 0  # two lookups an extent: the warm path of a small gather (observe(i))
        pages = run_pages(*needed_pages(starts, ends))
        pages = pages[(pages < self.known.bits.size)]
        pages = pages[~self.known.bits[pages]]
        if not pages.size:
            return 0
        lo, hi = int(pages[0]), int(pages[-1]) + 1
        runs = int(np.count_nonzero(np.diff(pages) > 1)) + 1
        if not fresh and hi - lo <= _LOOK_PAGES_PER_RUN * runs:
            cached = resident(self.address, lo, hi - lo)
            if cached is not None:
                self.known.add(lo, cached)
                pages = pages[~cached[pages - lo]]
        runs_first, runs_end = merge_runs(pages, pages)
        for a, b in zip(runs_first.tolist(), runs_end.tolist()):
            try:
                self._mapping.madvise(advice, a * PAGE, min(b * PAGE, self.nbytes) - a * PAGE)
            except (OSError, ValueError):
                return self.prefetched_pages  # advice only: reads fault the pages in anyway
        self.prefetched_pages += int(pages.size)
        self.known.add_runs(runs_first.tolist(), runs_end.tolist())  # asked for: the next gather does not ask again
        return int(pages.size)

    def reserve_all(self) -> None:
        """Give every block of the file disk space (before the grid is written whole)."""
        if self.fully_reserved or self._reserve_fd is None:
            return
        self._fallocate(0, self.nbytes)
        self._mark_all_reserved()

    @property
    def reserve_pending(self) -> bool:
        """Whether a write may still need disk space reserved (False: every block is, or none can be)."""
        return self._reserve_fd is not None and not self.fully_reserved

    def reserve_items(self, offsets: np.ndarray, itemsize: int) -> None:
        """Give disk space to the blocks under the ``itemsize``-byte items at element ``offsets``.

        A scattered write's cheap case: an aligned item of a power-of-two size never straddles
        a block, so one shift finds its block and cells already reserved cost three array ops.
        """
        if not self.reserve_pending or offsets.size == 0:
            return
        if itemsize & (itemsize - 1) or BLOCK_BYTES % itemsize:
            starts = offsets.astype(np.int64, copy=False) * itemsize
            self.reserve(starts, starts + itemsize)
            return
        blocks = offsets >> ((BLOCK_BYTES // itemsize).bit_length() - 1)  # offset * itemsize // BLOCK_BYTES
        pending = blocks[~self._reserved[blocks]]
        if pending.size:
            self._reserve_runs(*merge_runs(pending, pending))

    def reserve(self, starts: np.ndarray, ends: np.ndarray) -> None:
        """Give disk space to the blocks under the byte extents ``[starts[i], ends[i])``.

        Blocks reserved earlier cost one vectorised lookup, no system call.
        """
        if self.fully_reserved or self._reserve_fd is None or starts.size == 0:
            return
        first = starts // BLOCK_BYTES
        last = (ends - 1) // BLOCK_BYTES
        single = first == last
        pending = first[single]
        pending = pending[~self._reserved[pending]]
        run_first, run_last = merge_runs(pending, pending)
        if not single.all():
            wide_first, wide_end = merge_runs(first[~single], last[~single])
            gaps = [(a, b) for a, b in zip(wide_first.tolist(), wide_end.tolist()) if not self._reserved[a:b].all()]
            if gaps:
                extra = np.array(gaps, dtype=np.int64)
                run_first, run_last = merge_runs(
                    np.concatenate([run_first, extra[:, 0]]), np.concatenate([run_last, extra[:, 1]]) - 1
                )
        self._reserve_runs(run_first, run_last)

    def _reserve_runs(self, run_first: np.ndarray, run_end: np.ndarray) -> None:
        """fallocate the block runs ``[run_first[i], run_end[i])`` and remember them."""
        for a, b in zip(run_first.tolist(), run_end.tolist()):
            offset = a * BLOCK_BYTES
            self._fallocate(offset, min(b * BLOCK_BYTES, self.nbytes) - offset)
            self._reserved[a:b] = True
        if run_first.size and self._reserved.all():
            self.fully_reserved = True

    @property
    def can_reserve(self) -> bool:
        return self._reserve_fd is not None

    def _fallocate(self, offset: int, length: int) -> None:
        assert self._reserve_fd is not None
        try:
            os.posix_fallocate(self._reserve_fd, offset, length)
        except OSError as exc:
            raise _disk_error(exc, self.path, f"reserve {length} bytes for a write") from exc

    def _mark_all_reserved(self) -> None:
        self._reserved[:] = True
        self.fully_reserved = True

    def flush(self) -> None:
        """msync the mapping: every write so far is on the device when this returns."""
        if self._mapping is not None and self.writable:
            self._mapping.flush()

    def release(self) -> None:
        """Close the descriptor and drop this object's hold on the mapping (see class doc)."""
        if self._reserve_fd is not None and self._reserve_fd != self._fd:
            os.close(self._reserve_fd)
        self._reserve_fd = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        # Not mapping.close(): arrays handed out may still use it; it unmaps with the last one.
        self._mapping = None
