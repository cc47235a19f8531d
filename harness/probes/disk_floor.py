"""The disk's floor under cold reads: O_DIRECT sequential and random reads, and a given set of pages read direct (by fio when installed)."""

from __future__ import annotations

import json
import mmap
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import HarnessUsageError

PAGE = mmap.PAGESIZE
PIECE_BYTES = 1 << 20  # the largest single read: long runs are split so threads share them
MIB = 1024**2


@dataclass(frozen=True)
class DiskFloor:
    """What the device under a file delivers without the page cache (O_DIRECT where allowed)."""

    sequential_mib_s: float  # 1 MiB reads one after another
    random_qd1_us: float  # one 4 KiB random read at a time: microseconds per read
    random_iops: float  # 4 KiB random reads with ``threads`` in flight
    random_mib_s: float
    threads: int
    direct: bool  # O_DIRECT was accepted; False: plain reads of an evicted file

    def record(self) -> dict[str, object]:
        return {"sequential_mib_s": self.sequential_mib_s, "random_qd1_us": self.random_qd1_us,
                "random_iops": self.random_iops, "random_mib_s": self.random_mib_s, "threads": self.threads,
                "direct": self.direct}


def _open_direct(path: Path) -> tuple[int, bool]:
    flag = getattr(os, "O_DIRECT", 0)
    if flag:
        try:
            return os.open(path, os.O_RDONLY | flag), True
        except OSError:
            pass
    return os.open(path, os.O_RDONLY), False


def page_runs(pages: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct pages as runs ``[first, end)`` of consecutive pages."""
    pages = np.unique(np.asarray(pages, dtype=np.int64))
    if pages.size == 0:
        return pages, pages
    breaks = np.flatnonzero(np.diff(pages) != 1) + 1
    first = pages[np.r_[0, breaks]]
    end = pages[np.r_[breaks - 1, pages.size - 1]] + 1
    return first, end


def _pieces(first: np.ndarray, end: np.ndarray) -> Iterator[tuple[int, int]]:
    """(offset, length) reads covering the runs, none longer than PIECE_BYTES."""
    step = PIECE_BYTES // PAGE
    for a, b in zip(first.tolist(), end.tolist()):
        for start in range(a, b, step):
            yield start * PAGE, min(step, b - start) * PAGE


def read_pages_direct(path: Path, pages: np.ndarray, *, threads: int = 32) -> tuple[float, int, bool]:
    """Read exactly ``pages`` of ``path`` (coalesced into runs), ``threads`` reads in flight.

    Returns (seconds, bytes read, whether O_DIRECT was used): the time an ideal prefetch of
    those pages takes on this device, the floor under a cold gather that needs them.
    """
    if threads < 1:
        raise HarnessUsageError(f"threads must be >= 1, got {threads}")
    fd, direct = _open_direct(path)
    local = threading.local()

    def read(piece: tuple[int, int]) -> int:
        buffer = getattr(local, "buffer", None)
        if buffer is None:
            buffer = local.buffer = mmap.mmap(-1, PIECE_BYTES)  # page-aligned, as O_DIRECT needs
        offset, length = piece
        return os.preadv(fd, [memoryview(buffer)[:length]], offset)  # short at the end of the file

    try:
        pieces = list(_pieces(*page_runs(pages)))
        workers = min(threads, max(1, len(pieces)))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            # Start every thread and give it its buffer before the clock: the floor is the
            # reads, not the pool's start-up (~0.1 ms a thread).
            ready = threading.Barrier(workers)
            list(pool.map(lambda _: (ready.wait(), read((0, PAGE))), range(workers)))
            start = time.perf_counter()
            done = sum(pool.map(read, pieces))
            return time.perf_counter() - start, int(done), direct
    finally:
        os.close(fd)


def queue_depth(path: Path) -> int:
    """Reads the device under ``path`` takes in flight: the smaller of the block layer's
    requests (nr_requests) and the hardware queue's tags (128 if unknown).

    A page-cache prefetch can have no more in flight than this, so the floor is read at it.
    """
    device = os.stat(path).st_dev
    try:
        block = Path(f"/sys/dev/block/{os.major(device)}:{os.minor(device)}").resolve()
        if (block / "partition").exists():
            block = block.parent
        depths = [int((block / "queue" / "nr_requests").read_text())]
        depths += [int(tags.read_text()) for tags in block.glob("mq/*/nr_tags")]
        return max(1, min(depths))
    except (OSError, ValueError):
        return 128


def read_pages_fio(path: Path, pages: np.ndarray, *, iodepth: int) -> tuple[float, int]:
    """Read exactly ``pages`` of ``path`` (coalesced into runs, in file order) with fio: O_DIRECT,
    libaio, ``iodepth`` in flight, replayed from an I/O log with no stalls.

    Returns (seconds, bytes read). fio submits from C with no Python between reads, so this
    is the device's floor where the thread reader (read_pages_direct) is its own bound.
    """
    return read_files_fio({Path(path): pages}, iodepths=(iodepth,))[0]


def read_files_fio(pages_of: dict[Path, np.ndarray], *, iodepths: tuple[int, ...]) -> list[tuple[float, int]]:
    """Every file's pages, replayed by one fio run once per queue depth in ``iodepths`` (one job
    after another): fio's start-up (~0.5 s on a busy host) is paid once, not per file and depth."""
    fio = shutil.which("fio")
    if fio is None:
        raise HarnessUsageError("fio is not installed (apt-get install fio)")
    names = {str(Path(path).resolve()): list(_pieces(*page_runs(pages))) for path, pages in pages_of.items()}
    pieces = sum(len(p) for p in names.values())
    with tempfile.NamedTemporaryFile("w", suffix=".iolog") as log:
        log.write("fio version 2 iolog\n")
        log.writelines(f"{name} add\n{name} open\n" for name in names)
        log.writelines(f"{name} read {offset} {length}\n" for name, runs in names.items() for offset, length in runs)
        log.writelines(f"{name} close\n" for name in names)
        log.flush()
        command = [fio, "--output-format=json"]
        for index, depth in enumerate(iodepths):
            command += [f"--name=floor{index}", f"--read_iolog={log.name}", "--ioengine=libaio", f"--iodepth={depth}",
                        "--direct=1", "--replay_no_stall=1"] + (["--stonewall"] if index else [])
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise HarnessUsageError(f"fio failed ({done.returncode}): {done.stderr.strip()[-300:]}")
    found = []
    for job, depth in zip(json.loads(done.stdout)["jobs"], iodepths):
        read = job["read"]
        # fio's byte count reads 0 for a run under 1 ms; its I/O count is exact.
        if job.get("error") or read["total_ios"] != pieces or read["short_ios"]:
            raise HarnessUsageError(f"fio read {read['total_ios']} of {pieces} pieces of {', '.join(names)} "
                                    f"({read['short_ios']} short, error {job.get('error')})")
        found.append((_fio_seconds(read, depth), sum(length for runs in names.values() for _, length in runs)))
    return found


def _fio_seconds(read: dict, iodepth: int) -> float:
    """fio's run time, in whole milliseconds; below 10 ms (0 under 1 ms) it is too coarse, so the
    time is then the reads' summed latency (submission + completion) over the reads in flight."""
    runtime = read["runtime"] / 1000
    if runtime >= 0.010:
        return runtime
    busy = sum(read[key]["mean"] * read[key]["N"] for key in ("slat_ns", "clat_ns")) / 1e9
    in_flight = max(1, min(iodepth, read["total_ios"]))
    longest = max(read["slat_ns"]["max"], read["clat_ns"]["max"], 0) / 1e9
    return max(runtime, busy / in_flight, longest)


FIO = "fio"
PREAD_THREADS = "pread threads"
READERS = ("auto", FIO, PREAD_THREADS)


@dataclass(frozen=True)
class FloorRead:
    """Given pages read direct from the device: how long it took, and how it was read."""

    seconds: float
    bytes: int
    reader: str  # FIO or PREAD_THREADS (the fallback without fio)
    iodepth: int  # reads in flight: the device's queue depth

    def __add__(self, other: FloorRead) -> FloorRead:
        return FloorRead(self.seconds + other.seconds, self.bytes + other.bytes, self.reader, self.iodepth)


def read_floor(path: Path, pages: np.ndarray, *, reader: str = "auto", iodepth: int | None = None) -> FloorRead:
    """The floor under reading ``pages`` of ``path``: direct I/O at the device's queue depth.

    fio when installed (``auto``), else (or with ``reader=PREAD_THREADS``) O_DIRECT ``preadv``
    into page-aligned buffers from as many threads as the queue depth, a looser floor: Python
    between reads makes it slower than the device on many small runs.
    """
    found = read_floor_of_files({path: pages}, reader=reader, iodepths=(iodepth,))
    if found is None:
        return FloorRead(0.0, 0, _reader(reader), queue_depth(path) if iodepth is None else iodepth)
    return found[0]


def _reader(reader: str) -> str:
    if reader not in READERS:
        raise HarnessUsageError(f"unknown floor reader {reader!r}; use one of {READERS}")
    if reader == "auto":
        return FIO if shutil.which("fio") is not None else PREAD_THREADS
    return reader


def read_floor_of_files(pages_of: dict[Path, np.ndarray], *, reader: str = "auto",
                        iodepths: tuple[int | None, ...] = (None,)) -> tuple[FloorRead, ...] | None:
    """The floor of several files' pages, once per queue depth (None: the device's), each depth
    reading every file one after another; None when no page is given."""
    chosen = _reader(reader)
    pages_of = {Path(path): pages for path, pages in pages_of.items() if len(pages)}
    if not pages_of:
        return None
    device = queue_depth(next(iter(pages_of)))
    depths = tuple(device if depth is None else depth for depth in iodepths)
    if any(depth < 1 for depth in depths):
        raise HarnessUsageError(f"iodepth must be >= 1, got {depths}")
    if chosen == FIO:
        return tuple(FloorRead(seconds, done, FIO, depth)
                     for (seconds, done), depth in zip(read_files_fio(pages_of, iodepths=depths), depths))
    found = []
    for depth in depths:
        total = FloorRead(0.0, 0, PREAD_THREADS, depth)
        for path, pages in pages_of.items():
            seconds, done, _ = read_pages_direct(path, pages, threads=depth)
            total = total + FloorRead(seconds, done, PREAD_THREADS, depth)
        found.append(total)
    return tuple(found)


def measure_floor(path: Path, *, seconds: float = 2.0, threads: int = 32, seed: int = 0) -> DiskFloor:
    """Sequential 1 MiB reads, then 4 KiB random reads one at a time and ``threads`` at a time.

    Each part runs for about ``seconds`` over ``path`` (a file of real blocks, not holes,
    larger than anything cached: the caller evicts it first when O_DIRECT is refused).
    """
    size = os.stat(path).st_size
    if size < 16 * MIB:
        raise HarnessUsageError(f"{path} is {size} bytes; the floor needs a file of >= 16 MiB of real blocks")
    rng = np.random.default_rng(seed)
    fd, direct = _open_direct(path)
    buffer = mmap.mmap(-1, PIECE_BYTES)
    try:
        read_bytes, start, offset = 0, time.perf_counter(), 0
        while time.perf_counter() - start < seconds and offset + PIECE_BYTES <= size:
            read_bytes += os.preadv(fd, [buffer], offset)
            offset += PIECE_BYTES
        sequential = read_bytes / MIB / (time.perf_counter() - start)
        view, reads, start = memoryview(buffer)[:PAGE], 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 2:
            os.preadv(fd, [view], int(rng.integers(0, size // PAGE)) * PAGE)
            reads += 1
        qd1 = (time.perf_counter() - start) / reads * 1e6
    finally:
        os.close(fd)
    # Random pages, many in flight: sized so the pass lasts about ``seconds`` at QD1 speed x threads.
    count = int(min(size // PAGE, max(1000, seconds / 2 / (qd1 * 1e-6) * threads)))
    pages = np.sort(rng.choice(size // PAGE, size=count, replace=False))
    pages = pages[np.diff(pages, prepend=-2) > 1]  # no two adjacent: each one its own read
    elapsed, done, _ = read_pages_direct(path, pages, threads=threads)
    return DiskFloor(sequential_mib_s=sequential, random_qd1_us=qd1, random_iops=pages.size / elapsed,
                     random_mib_s=done / MIB / elapsed, threads=threads, direct=direct)
