"""Frontier ticks, cold-ish against warm: agents step into unread territory of a world evicted from the page cache."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import procstats
from harness.errors import HarnessUsageError
from harness.stats import paired_ratio_interval
from harness.workloads import FrontierTick, build_workload

BLOCK_BYTES = 512  # ru_inblock counts 512-byte blocks
FRONTIER_AGENTS = 1000


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

    @property
    def eviction_effective(self) -> bool:
        return self.evicted and bool(self.inblock_bytes)

    def record(self) -> dict[str, Any]:
        return {"kind": "frontier", "layout": self.layout, "size": self.size, "agents": self.agents,
                "first_s": self.first_s, "cold_s": list(self.cold_s), "warm_s": list(self.warm_s), "inblock_bytes": self.inblock_bytes,
                "major_faults": self.major_faults, "eviction_effective": self.eviction_effective,
                "ratio": self.ratio, "ci_low": self.ci_low, "ci_high": self.ci_high}


def _layout_options(layout: str) -> dict[str, Any]:
    if layout == "rows":
        return {"layout": "rows"}
    side = layout.removeprefix("tiles")
    if not layout.startswith("tiles") or not side.isdigit():
        raise HarnessUsageError(f"frontier layout must be 'rows' or 'tiles<side>', got {layout!r}")
    return {"layout": "tiles", "tile_size": int(side)}


def measure_frontier(directory: Path, size: int, layout: str, *, pairs: int = 8, agents: int = FRONTIER_AGENTS,
                     seed: int = 0) -> FrontierResult:
    """Build the world (dense layers on disk), evict every grid file once, run one tick (it reads the
    working set back), then ``pairs`` times: step into new territory (timed, cold-ish: those cells
    were never read, what earlier ticks read stays cached) and run the same tick again (warm)."""
    if pairs < 2:
        raise HarnessUsageError(f"pairs must be >= 2 for an interval, got {pairs}")
    ticks = pairs + 2
    workload = build_workload("frontier_tick", "memmap", size, directory=directory, agents=agents, seed=seed,
                              **_layout_options(layout))
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
        for _ in range(pairs):
            before = procstats.rusage_io()
            start = time.perf_counter()
            workload.run()
            cold.append(time.perf_counter() - start)
            after = procstats.rusage_io()
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
    return FrontierResult(layout, size, agents, first, tuple(cold), tuple(warm), inblock, faults, evicted, ratio, low, high)
