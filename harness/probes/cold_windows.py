"""Cold window reads: drop the mapping, evict the files from the page cache, remap read-only and read windows."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from farm_grids.stores import GridStore, MemmapStore
from harness.probes import process_stats as procstats
from harness.progress import ProgressCallback
from harness.verdicts import RatioRow
from harness.probes.disk_floor import read_floor_of_files
from harness.errors import HarnessUsageError
from harness.probes.page_cache import pages_read, snapshot
from harness.results.document import ratio_record
from harness.probes.stats import paired_ratio_interval
from harness.probes.timing import PairedTiming, calibrate
from harness.verdicts import COLD_THRESHOLD, Verdict
from harness.workloads.catalog import BatchedWindows, Workload, _SingleWindowReads, build_workload

COLD_WORKLOADS: tuple[str, ...] = ("resource_windows", "environmental_windows", "temporal_windows", "batched_windows")
BLOCK_BYTES = 512  # ru_inblock counts 512-byte blocks
# (cold - RAM read time) over the floor of the pages the cold read brought in, read one at a time
# (its reads are page faults, one after another): an informational row above it WARNs.
COLD_FLOOR_RATIO = 4.0


@dataclass(frozen=True)
class ColdRow:
    """Cold memmap reads (after eviction and remap) against the same reads from RAM."""

    workload: str
    size: int
    timing: PairedTiming
    threshold: float
    inblock_bytes: int | None  # bytes read from disk during the cold reads, all trials
    major_faults: int | None
    evicted: bool  # posix_fadvise(DONTNEED) was accepted for every file in every trial
    floor_s: float | None = None  # the first trial's pages read direct, one at a time (None: not read)
    floor_reader: str | None = None
    floor_threshold: float = COLD_FLOOR_RATIO

    @property
    def eviction_effective(self) -> bool:
        return bool(self.evicted and self.inblock_bytes)

    @property
    def floor_ratio(self) -> float | None:
        """The cold read's time beyond the same read from RAM, over the floor of the pages it read."""
        if not self.floor_s:
            return None
        return (self.timing.candidate_median_s - self.timing.baseline_median_s) / self.floor_s

    @property
    def row(self) -> RatioRow:
        return RatioRow(workload=self.workload, ratio=self.timing.ratio, ci_low=self.timing.ci_low,
                        ci_high=self.timing.ci_high, threshold=self.threshold, size=self.size, cache="cold",
                        gating=False)

    @property
    def verdict(self) -> Verdict:
        """Against the device's floor when it was read, else the cold/RAM threshold: PASS within it,
        otherwise WARN (cold rows are never a FAIL)."""
        if self.floor_ratio is not None:
            return Verdict.PASS if self.floor_ratio <= self.floor_threshold else Verdict.WARN
        return Verdict.PASS if self.row.verdict is Verdict.PASS else Verdict.WARN

    @property
    def details(self) -> str:
        if not self.eviction_effective:
            return "eviction not effective (no bytes read from disk): this row measured a warm page cache"
        text = f"{self.inblock_bytes} bytes read from disk, {self.major_faults} major faults"
        if self.floor_ratio is not None:
            text += (f", beyond RAM {self.floor_ratio:.2f}x the floor of its pages by {self.floor_reader} "
                     f"(<= {self.floor_threshold:g})")
        return text

    def record(self) -> dict[str, Any]:
        record = ratio_record(self.timing, threshold=self.threshold, size=self.size, cache="cold",
                              verdict=self.verdict)
        record.update(inblock_bytes=self.inblock_bytes, major_faults=self.major_faults,
                      eviction_effective=self.eviction_effective, gating=False, details=self.details,
                      floor_s=self.floor_s, floor_reader=self.floor_reader, floor_ratio=self.floor_ratio)
        return record


def window_reader(workload: Workload) -> Callable[[GridStore], object]:
    """The reads of ``workload`` as a function of a store (so they can run on a remapped one)."""
    if isinstance(workload, _SingleWindowReads):
        reads = list(workload._reads)

        def read_each(store: GridStore) -> object:
            last = None
            for name, y0, y1, x0, x1 in reads:
                last = store.get_window(name, y0, y1, x0, x1)
            return last

        return read_each
    if isinstance(workload, BatchedWindows):
        ys, xs, radius, out = workload.ys, workload.xs, workload.params.radius, workload.out
        return lambda store: store.get_windows("OBSTACLES", ys, xs, radius, out=out)
    raise HarnessUsageError(f"workload {workload.__class__.__name__} has no window reads for the cold-cache probe")


def _ram_seconds_per_read(read: Callable[[], object], min_block_s: float) -> float:
    iterations = calibrate(read, min_block_s)
    start = time.perf_counter_ns()
    for _ in range(iterations):
        read()
    return (time.perf_counter_ns() - start) / 1e9 / iterations


def _delta(after: tuple[int, int] | None, before: tuple[int, int] | None, index: int) -> int | None:
    return None if after is None or before is None else after[index] - before[index]


def measure_cold(
    name: str, size: int, directory: Path, *, trials: int = 5, threshold: float = COLD_THRESHOLD,
    min_block_s: float = 0.010, seed: int = 0, floor_reader: str | None = "auto",
) -> ColdRow:
    """Per trial: evict the workload's files, remap them read-only, time its window reads once;
    with ``floor_reader``, the pages the first trial brought in are read again direct, one at a
    time, for the device's floor."""
    ram = build_workload(name, "ram", size, directory=directory, seed=seed)
    memmap: Workload | None = None
    leftovers: list[Path] = []
    try:
        memmap = build_workload(name, "memmap", size, directory=directory, seed=seed)
        read, manager = window_reader(memmap), memmap.managers[0]
        ram_store = ram.managers[0].store
        manifest = getattr(manager.store, "manifest_path", None)
        files = manager.files()
        if manifest is None or not files:
            raise HarnessUsageError(f"workload {name!r} has no memmap files to evict")
        leftovers = [*files, manifest]
        manager.close(delete_files=False)  # flush and drop the mapping: mapped pages cannot be evicted
        ram_s, cold_s, inblock, majflt, evicted = [], [], 0, 0, True
        floor = None
        for trial in range(trials):
            evicted &= all(procstats.evict_from_page_cache(path) for path in files)
            cached = snapshot(files) if floor_reader is not None and trial == 0 else None
            before = procstats.rusage_io()
            store = MemmapStore.open(manifest, mode="r")
            try:
                start = time.perf_counter_ns()
                read(store)
                cold_s.append((time.perf_counter_ns() - start) / 1e9)
            finally:
                store.close_all()
            after = procstats.rusage_io()
            if cached is not None:
                brought = pages_read(cached, snapshot(files))
                floors = None if brought is None else read_floor_of_files(brought, reader=floor_reader, iodepths=(1,))
                floor = None if floors is None else floors[0]
            blocks, faults = _delta(after, before, 0), _delta(after, before, 1)
            inblock = None if blocks is None or inblock is None else inblock + blocks * BLOCK_BYTES
            majflt = None if faults is None or majflt is None else majflt + faults
            ram_s.append(_ram_seconds_per_read(lambda: read(ram_store), min_block_s))
    finally:
        ram.close()
        if memmap is not None:
            memmap.close()
        for path in leftovers:
            path.unlink(missing_ok=True)
    ratio, low, high = paired_ratio_interval(ram_s, cold_s, seed=seed)
    timing = PairedTiming(
        workload=name, ratio=ratio, ci_low=low, ci_high=high, confidence=0.95, blocks=len(cold_s),
        iterations_per_block=1, baseline_block_s=tuple(ram_s), candidate_block_s=tuple(cold_s),
        baseline_median_s=sorted(ram_s)[len(ram_s) // 2], candidate_median_s=sorted(cold_s)[len(cold_s) // 2],
        gc_enabled=True, warmup_blocks=0, blocks_requested=trials,
    )
    return ColdRow(name, size, timing, threshold, inblock, majflt, evicted,
                   floor_s=None if floor is None else floor.seconds, floor_reader=None if floor is None else floor.reader)


def measure_cold_rows(
    workloads: Sequence[str], sizes: Sequence[int], directory: Path, *, trials: int = 5,
    threshold: float = COLD_THRESHOLD, progress: ProgressCallback | None = None,
) -> list[ColdRow]:
    plan = [(name, size) for size in sizes for name in workloads]
    rows = []
    for done, (name, size) in enumerate(plan, start=1):
        rows.append(measure_cold(name, size, directory, trials=trials, threshold=threshold))
        if progress is not None:
            progress(done, len(plan), f"{name}@{size}")
    return rows
