"""Evidence for C9 (out-of-core): cold gathers and their disk floor, frontier ticks, and resident memory from the probes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.probes.cold_gather import (
    ColdGather,
    GatherSetting,
    build_dense_grid,
    measure_cold_gather,
)
from harness.acceptance.out_of_core import (
    FRONTIER_FLOOR_RATIO,
    GATHER_FLOOR_RATIO,
    ROWS_READ_RATIO,
    TILES_READ_RATIO,
    TILES_US_PER_WINDOW,
    FrontierLine,
    GatherLine,
    OutOfCoreEvidence,
    ResidentPoint,
    SlopeFit,
)
from harness.probes.cold_frontier import FrontierResult, measure_frontier
from harness.commands.memory import ProbeResult
from harness.probes.stats import fit_memory_slope

DEFAULT_TILES = "tiles32"  # the engine's default tile side (BENCHMARKS.md, "Choosing the tile side")


@dataclass(frozen=True)
class OutOfCorePlan:
    """What C9 measures: the gather grid's side, the frontier world's side, and the layouts."""

    # The quick defaults (validate --quick must stay within 30 s): a 16 MiB gather grid, one
    # trial, a 1024^2 frontier, and C6's row probes alone for the resident-memory line.
    gather_size: int = 2048
    frontier_size: int = 1024
    tiles: str = DEFAULT_TILES
    # Windows per gather: about a quarter of the grid's tiles32 tiles, so the pages they need are a
    # fraction of the file and reading more than needed shows (10,000 windows on a 16 MiB grid
    # need nearly all of it, so no readahead could read more).
    gather_windows: int = 1000
    gather_trials: int = 1
    frontier_pairs: int = 2
    tiled_probes: bool = False  # also probe every memory size in the tiled layout (full, big)
    gather_floor_line: bool = False  # judge the gather against its floor (only on a grid of >= 1 GiB)
    judge_slope: bool = False  # judge the RssFile slope (only over sizes up to 16384^2)
    floor_reader: str = "auto"  # how the device's floor is read: fio when installed, else O_DIRECT threads
    backend: str = "memmap"  # the registered file backend the gathers and frontier ticks go through

    @property
    def layouts(self) -> tuple[str, str]:
        return ("rows", self.tiles)


@dataclass
class OutOfCoreRun:
    """What was measured, as records for the result JSON and lines for the criterion."""

    gathers: list[ColdGather] = field(default_factory=list)
    frontier: list[FrontierResult] = field(default_factory=list)

    def records(self) -> list[dict[str, Any]]:
        return [g.record() for g in self.gathers] + [f.record() for f in self.frontier]


def measure_gathers(directory: Path, plan: OutOfCorePlan, progress: Any = None) -> OutOfCoreRun:
    """Both layouts' default setting (prefetch on, access auto), each grid built once and removed after."""
    run = OutOfCoreRun()
    for index, layout in enumerate(plan.layouts, start=1):
        manifest, path = build_dense_grid(directory, plan.gather_size, layout)
        try:
            # Each trial's floor is read just before it, as `outofcore --floor` does: the same pages
            # under the same device conditions (the virtual disk drifts ~1.5x within minutes).
            gather = measure_cold_gather(manifest, path, plan.gather_size, GatherSetting(layout),
                                         trials=plan.gather_trials, windows=plan.gather_windows, backend=plan.backend,
                                         floor_reader=plan.floor_reader)
            run.gathers.append(gather)
        finally:
            for leftover in (path, manifest, *manifest.parent.glob(manifest.name + "*")):
                Path(leftover).unlink(missing_ok=True)
        if progress is not None:
            progress(index, len(plan.layouts), f"cold gather {layout}")
    return run


def measure_frontiers(directory: Path, plan: OutOfCorePlan, run: OutOfCoreRun, progress: Any = None) -> None:
    for index, layout in enumerate(plan.layouts, start=1):
        run.frontier.append(measure_frontier(directory, plan.frontier_size, layout, pairs=plan.frontier_pairs,
                                             backend=plan.backend, floor_reader=plan.floor_reader))
        if progress is not None:
            progress(index, len(plan.layouts), f"frontier {layout}")


def gather_lines(run: OutOfCoreRun, floor_line: bool) -> tuple[GatherLine, ...]:
    lines = []
    for g in run.gathers:
        tiles = g.setting.layout != "rows"
        lines.append(GatherLine(
            label=f"{g.setting.layout} prefetch", grid_bytes=g.file_bytes, us_per_window=g.us_per_window,
            read_ratios=g.read_ratios, eviction_effective=g.eviction_effective,
            target_us_per_window=TILES_US_PER_WINDOW if tiles and floor_line else None,
            max_read_ratio=TILES_READ_RATIO if tiles else ROWS_READ_RATIO,
            floor_us_per_window=g.floor_us_per_window, floor_ratios=g.floor_ratios,
            max_floor_ratio=GATHER_FLOOR_RATIO if tiles and floor_line else None, floor_reader=g.floor_reader))
    return tuple(lines)


def frontier_lines(run: OutOfCoreRun) -> tuple[FrontierLine, ...]:
    return tuple(FrontierLine(f"{f.layout}@{f.size}", f.ratio, f.ci_low, f.ci_high, f.eviction_effective,
                              threshold=None if f.layout == "rows" else FRONTIER_FLOOR_RATIO,
                              floor_ratio=f.floor_ratio, floor_reader=f.floor_reader) for f in run.frontier)


def resident_points(results: Sequence[ProbeResult]) -> tuple[ResidentPoint, ...]:
    points = []
    for r in results:
        if r.record is None:
            continue
        rec = r.record
        points.append(ResidentPoint(layout=str(rec.get("layout", "rows")), grid_bytes=float(rec["grid_bytes"]),
                                    rss_file_bytes=rec.get("rss_file_bytes"),
                                    resident_file_bytes=rec.get("resident_file_bytes"),
                                    needed_bytes=rec.get("needed_bytes"),
                                    untracked_calls=int(rec.get("untracked_calls") or 0)))
    return tuple(points)


def _fit(points: Sequence[tuple[float, float]]) -> tuple[float | None, tuple[float, float] | None]:
    if len({g for g, _ in points}) < 2:
        return None, None
    slope, _, _, interval = fit_memory_slope([g for g, _ in points], [b for _, b in points])
    return slope, interval


def slope_fits(points: Sequence[ResidentPoint], gated: Sequence[str] = ()) -> tuple[SlopeFit, ...]:
    """RssFile against grid bytes, one fit per layout over its measured sizes; layouts in ``gated`` are judged."""
    fits = []
    for layout in dict.fromkeys(p.layout for p in points):
        mine = [p for p in points if p.layout == layout]
        rss = sorted((p.grid_bytes, float(p.rss_file_bytes)) for p in mine if p.rss_file_bytes is not None)
        needed = sorted((p.grid_bytes, float(p.needed_bytes)) for p in mine if p.needed_bytes is not None)
        slope, interval = _fit(rss)
        fits.append(SlopeFit(layout, slope, interval, len(rss), gated=layout in gated, needed_slope=_fit(needed)[0]))
    return tuple(fits)


def out_of_core_evidence(run: OutOfCoreRun | None, probes: Sequence[ProbeResult], plan: OutOfCorePlan) -> OutOfCoreEvidence:
    """C9's evidence; the RssFile slope is judged for the tiled layout only on the full sizes (small
    worlds are mostly covered by the work, so their RssFile still grows with them)."""
    points = resident_points(probes)
    return OutOfCoreEvidence(
        gathers=gather_lines(run, plan.gather_floor_line) if run is not None else (),
        frontier=frontier_lines(run) if run is not None else (),
        resident=points, slopes=slope_fits(points, gated=(plan.tiles,) if plan.judge_slope else ()))
