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
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=threads) as pool:
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
    fio = shutil.which("fio")
    if fio is None:
        raise HarnessUsageError("fio is not installed (apt-get install fio)")
    pieces = list(_pieces(*page_runs(pages)))
    name = str(Path(path).resolve())
    with tempfile.NamedTemporaryFile("w", suffix=".iolog") as log:
        log.write(f"fio version 2 iolog\n{name} add\n{name} open\n")
        log.writelines(f"{name} read {offset} {length}\n" for offset, length in pieces)
        log.write(f"{name} close\n")
        log.flush()
        done = subprocess.run(
            [fio, "--name=floor", f"--read_iolog={log.name}", "--ioengine=libaio", f"--iodepth={iodepth}",
             "--direct=1", "--replay_no_stall=1", "--output-format=json"],
            capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise HarnessUsageError(f"fio failed ({done.returncode}): {done.stderr.strip()[-300:]}")
    job = json.loads(done.stdout)["jobs"][0]
    read = job["read"]
    # fio's byte count reads 0 for a run under 1 ms; its I/O count is exact.
    if job.get("error") or read["total_ios"] != len(pieces) or read["short_ios"]:
        raise HarnessUsageError(f"fio read {read['total_ios']} of {len(pieces)} pieces of {path} "
                                f"({read['short_ios']} short, error {job.get('error')})")
    return read["runtime"] / 1000, sum(length for _, length in pieces)


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
