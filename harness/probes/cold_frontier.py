"""Frontier ticks, cold-ish against warm: agents step into unread territory of a world evicted from the page cache."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.probes import process_stats as procstats
from harness.probes.disk_floor import read_floor_of_files
from harness.errors import HarnessUsageError
from harness.probes.page_cache import pages_read, snapshot
from harness.probes.stats import paired_ratio_interval
from harness.workloads.catalog import FrontierTick, build_workload

BLOCK_BYTES = 512  # ru_inblock counts 512-byte blocks
FRONTIER_AGENTS = 1000
# The tick's reads are page faults, one at a time: its floor is those pages read direct at
# queue depth 1. The same pages at the device's queue depth are shown beside it (what a
# prefetch could win): measured at 15-900x below the tick's extra time, too far and too
# noisy (sub-millisecond fio runs) to judge.
FLOOR_DEPTH = 1


@dataclass(frozen=True)
class FrontierResult:
    """Pairs of (tick into new territory, the same tick again) after the world's files were evicted once."""

    layout: str
    size: int
    agents: int
    first_s: float  # the first tick after the eviction: it reads the rest of the working set back too
    cold_s: tuple[float, ...]
    warm_s: tuple[float, ...]
    inblock_bytes: int | None  # read from disk during the cold ticks, in total
    major_faults: int | None
    evicted: bool
    ratio: float
    ci_low: float
    ci_high: float
    floor_s: tuple[float | None, ...] = ()  # per cold tick: the pages it brought in, read direct (None: none)
    floor_bytes: tuple[int, ...] = ()
    floor_reader: str | None = None
    device_floor_s: tuple[float | None, ...] = ()  # the same pages at the device's queue depth (shown)

    @property
    def eviction_effective(self) -> bool:
        return self.evicted and bool(self.inblock_bytes)

    @property
    def floor_ratios(self) -> tuple[float, ...] | None:
        """Per pair: the cold tick's time beyond the warm tick, over the floor of the pages it read."""
        if len(self.floor_s) != len(self.cold_s) or not all(f for f in self.floor_s):
            return None
        return tuple((c - w) / f for c, w, f in zip(self.cold_s, self.warm_s, self.floor_s))  # type: ignore[operator]

    @property
    def floor_ratio(self) -> float | None:
        """The judged figure: all cold ticks' time beyond warm over all their floors (pairs weigh by their reads;
        one pair's floor can swing 10x on a busy virtual disk)."""
        if self.floor_ratios is None:
            return None
        return (sum(self.cold_s) - sum(self.warm_s)) / sum(self.floor_s)  # type: ignore[arg-type]

    def record(self) -> dict[str, Any]:
        return {"kind": "frontier", "layout": self.layout, "size": self.size, "agents": self.agents,
                "first_s": self.first_s, "cold_s": list(self.cold_s), "warm_s": list(self.warm_s), "inblock_bytes": self.inblock_bytes,
                "major_faults": self.major_faults, "eviction_effective": self.eviction_effective,
                "ratio": self.ratio, "ci_low": self.ci_low, "ci_high": self.ci_high,
                "floor_s": list(self.floor_s), "floor_bytes": list(self.floor_bytes), "floor_reader": self.floor_reader,
                "floor_depth": FLOOR_DEPTH, "device_floor_s": list(self.device_floor_s),
                "floor_ratio": self.floor_ratio}


def _layout_options(layout: str) -> dict[str, Any]:
    if layout == "rows":
        return {"layout": "rows"}
    side = layout.removeprefix("tiles")
    if not layout.startswith("tiles") or not side.isdigit():
        raise HarnessUsageError(f"frontier layout must be 'rows' or 'tiles<side>', got {layout!r}")
    return {"layout": "tiles", "tile_size": int(side)}


def measure_frontier(directory: Path, size: int, layout: str, *, pairs: int = 8, agents: int = FRONTIER_AGENTS,
                     seed: int = 0, backend: str = "memmap", floor_reader: str | None = None) -> FrontierResult:
    """Build the world (dense layers on disk, through ``backend``), evict every grid file once, run
    one tick (it reads the working set back), then ``pairs`` times: step into new territory (timed,
    cold-ish: those cells were never read, what earlier ticks read stays cached), with
    ``floor_reader`` read the pages that tick brought into the page cache direct from the device
    (its floor), and run the same tick again (warm)."""
    if pairs < 2:
        raise HarnessUsageError(f"pairs must be >= 2 for an interval, got {pairs}")
    ticks = pairs + 2
    workload = build_workload("frontier_tick", "memmap", size, directory=directory, agents=agents, seed=seed,
                              file_backend=backend, **_layout_options(layout))
    try:
        assert isinstance(workload, FrontierTick)
        if workload.paths.fresh_ticks < ticks:
            raise HarnessUsageError(f"a {size}x{size} world has {workload.paths.fresh_ticks} fresh ticks for "
                                    f"{agents} agents, fewer than the {ticks} asked for")
        workload.tick_at(0)  # buffers, agent memories and the temporal grids' first pages: not the frontier
        assert workload.env is not None
        workload.env.flush()
        evicted = all(procstats.evict_mapped_file(path) for path in workload.env.files())
        start = time.perf_counter()
        workload.run()
        first = time.perf_counter() - start
        cold, warm, inblock, faults = [], [], 0, 0
        floors: list[float | None] = []
        device_floors: list[float | None] = []
        floor_bytes: list[int] = []
        reader = None
        files = workload.env.files()
        for _ in range(pairs):
            cached = snapshot(files) if floor_reader is not None else {}
            before = procstats.rusage_io()
            start = time.perf_counter()
            workload.run()
            cold.append(time.perf_counter() - start)
            after = procstats.rusage_io()
            if floor_reader is not None:
                brought = pages_read(cached, snapshot(files))
                floor, device = (None, None) if brought is None else (
                    read_floor_of_files(brought, reader=floor_reader, iodepths=(FLOOR_DEPTH, None)) or (None, None))
                floors.append(None if floor is None else floor.seconds)
                device_floors.append(None if device is None else device.seconds)
                floor_bytes.append(0 if floor is None else floor.bytes)
                reader = reader if floor is None else floor.reader
            if before is None or after is None:
                inblock = faults = None  # type: ignore[assignment]
            elif inblock is not None and faults is not None:
                inblock += (after[0] - before[0]) * BLOCK_BYTES
                faults += after[1] - before[1]
            start = time.perf_counter()
            workload.repeat()
            warm.append(time.perf_counter() - start)
    finally:
        workload.close()
    ratio, low, high = paired_ratio_interval(warm, cold, seed=seed)
    return FrontierResult(layout, size, agents, first, tuple(cold), tuple(warm), inblock, faults, evicted, ratio, low,
                          high, floor_s=tuple(floors), floor_bytes=tuple(floor_bytes), floor_reader=reader,
                          device_floor_s=tuple(device_floors))
