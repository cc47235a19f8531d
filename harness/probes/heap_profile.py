"""Heap profiles under memray: capture one workload, render its flamegraph, and split the high-water mark into heap and MMAP records."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessUsageError
from harness.workloads.catalog import build_workload


DEFAULT_RUNS = 5


@dataclass(frozen=True)
class HighWaterMark:
    """Bytes live at memray's high-water mark, split by allocator: file mappings versus heap."""

    heap_bytes: int
    mmap_bytes: int
    heap_records: int
    mmap_records: int

    @property
    def total_bytes(self) -> int:
        return self.heap_bytes + self.mmap_bytes


def split_high_water_mark(records: Iterable[Any], mmap_allocator: int) -> HighWaterMark:
    """Sum record sizes, MMAP records apart (memray counts a mapping as an allocation of the file's size)."""
    heap = mapped = heap_n = mapped_n = 0
    for record in records:
        if int(record.allocator) == int(mmap_allocator):
            mapped, mapped_n = mapped + int(record.size), mapped_n + 1
        else:
            heap, heap_n = heap + int(record.size), heap_n + 1
    return HighWaterMark(heap, mapped, heap_n, mapped_n)


def import_memray() -> Any:
    """memray (a dev extra), or HarnessUsageError with one line saying how to get it."""
    try:
        return importlib.import_module("memray")
    except ImportError:
        raise HarnessUsageError("profile needs memray (pip install 'farm-grids[dev]')") from None


def capture(workload: str, size: int, out_dir: Path, scratch: Path, *, runs: int = DEFAULT_RUNS) -> Path:
    """Build the memmap workload and run it ``runs`` times under memray.Tracker; returns the capture."""
    memray = import_memray()
    capture_path = out_dir / f"memray-{workload}-{size}.bin"
    capture_path.unlink(missing_ok=True)  # memray refuses to overwrite a capture
    with memray.Tracker(capture_path):
        built = build_workload(workload, "memmap", size, directory=scratch)
        try:
            for _ in range(runs):
                built.run()
        finally:
            built.close()
    return capture_path


def flamegraph(capture_path: Path) -> Path:
    """Render ``capture_path`` with `python -m memray flamegraph` (memray's own reporter)."""
    html = capture_path.with_suffix(".html")
    done = subprocess.run([sys.executable, "-m", "memray", "flamegraph", "--force", "-o", str(html),
                           str(capture_path)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"memray flamegraph failed: {tail}")
    return html


def high_water_mark(capture_path: Path) -> HighWaterMark:
    memray = import_memray()
    reader = memray.FileReader(capture_path)
    try:
        records = reader.get_high_watermark_allocation_records(merge_threads=True)
        return split_high_water_mark(records, memray.AllocatorType.MMAP)
    finally:
        reader.close()
