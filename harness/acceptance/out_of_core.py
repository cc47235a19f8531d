"""C9, out-of-core: cold gathers and frontier ticks against the device's floor, and resident file memory against the work."""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.probes.cold_frontier import FrontierResult, measure_frontier
from harness.probes.cold_gather import ColdGather, GatherSetting, build_dense_grid, measure_cold_gather
from harness.probes.memory import ProbeResult
from harness.probes.stats import fit_memory_slope
from harness.progress import ProgressCallback
from harness.verdicts import Criterion, Verdict, judge_ratio, unmeasurable, worst

ID = "C9"
NAME = "out-of-core: cold reads and resident file memory track the work"
MIB, GIB = 1024**2, 1024**3
# Gate lines used by validate; callers may pass others. Time lines are ratios to the device's
# floor read in the same run (BENCHMARKS.md, "Cold lines against the device's floor").
TILES_US_PER_WINDOW = 20.0  # shown beside the big gather, never the judge: it moves with the disk
TILES_READ_RATIO = 1.5
ROWS_READ_RATIO = 1.25
# (cold - warm) gather time over the floor of its pages at the device's queue depth (big grids only:
# on quick and full grids the gather needs most of a small file, which the floor reads in one sweep).
GATHER_FLOOR_RATIO = 1.5
# (cold - warm) frontier tick time over the floor of the pages it brought in, read one at a time.
FRONTIER_FLOOR_RATIO = 4.0
RESIDENT_RATIO = 2.0
# RssFile bytes per byte of grid, fitted over the sizes for a fixed number of agents: 1.0 is
# "the world is loaded", 0 "only the work is". 0.02 allows 20 MiB per GiB of grid; a straight
# line through a curve that levels off (the work stops growing) needs that much room.
RSS_FILE_SLOPE = 0.02
BIG_GRID_BYTES = GIB  # (a) speaks of a grid of at least this size; smaller ones are quick-scale


@dataclass(frozen=True)
class GatherLine:
    """(a) One cold batched gather setting: per-trial figures and the lines it is held to (None: shown only)."""

    label: str  # e.g. "tiles32 prefetch"
    grid_bytes: int
    us_per_window: tuple[float, ...]
    read_ratios: tuple[float, ...] | None  # bytes read / the layout's minimum, per trial
    eviction_effective: bool
    target_us_per_window: float | None = None  # shown beside the figure, never judged
    max_read_ratio: float | None = None
    floor_us_per_window: float | None = None  # the disk's floor for the same pages (shown beside it)
    floor_ratios: tuple[float, ...] | None = None  # per trial: (cold - warm) / floor
    max_floor_ratio: float | None = None  # None: the floor ratio is shown, not judged
    floor_reader: str | None = None


@dataclass(frozen=True)
class FrontierLine:
    """(b) A tick whose agents step into unvisited cells, cold-ish over the same tick warm."""

    label: str
    ratio: float  # cold tick over warm tick (shown: it moves with the disk's latency that hour)
    ci_low: float
    ci_high: float
    eviction_effective: bool
    threshold: float | None = None  # the floor line; None: shown beside the gated layout, not judged
    floor_ratio: float | None = None  # sum of (cold - warm) over the sum of the floors of the pages read
    floor_reader: str | None = None


@dataclass(frozen=True)
class ResidentPoint:
    """(c) One memory probe (fresh process): file memory after the work against what the work needed."""

    layout: str
    grid_bytes: float
    rss_file_bytes: float | None  # RssFile of the whole process (/proc/self/status)
    resident_file_bytes: float | None  # mincore over the grid files' mappings
    needed_bytes: float | None  # pages covered by the windows read and cells written
    untracked_calls: int = 0  # reads through a dense array the recorder could not see


@dataclass(frozen=True)
class SlopeFit:
    """RssFile against grid bytes for one layout: the slope (B/B) and its interval (None under 3 sizes)."""

    layout: str
    slope: float | None
    interval: tuple[float, float] | None
    sizes: int
    gated: bool = True  # False: shown beside the gated layout (rows, whose needed pages grow too)
    needed_slope: float | None = None  # the same fit of the needed bytes: what the work itself grew by


@dataclass(frozen=True)
class OutOfCoreEvidence:
    """Everything C9 judges; any part may be empty (then it cannot PASS)."""

    gathers: tuple[GatherLine, ...] = ()
    frontier: tuple[FrontierLine, ...] = ()
    resident: tuple[ResidentPoint, ...] = ()
    slopes: tuple[SlopeFit, ...] = ()
    resident_ratio_limit: float = RESIDENT_RATIO
    slope_threshold: float = RSS_FILE_SLOPE
    probe_failures: tuple[str, ...] = ()  # "size: error" of memory probes that gave no record: WARN


def _span(values: tuple[float, ...]) -> tuple[float, float]:
    finite = [v for v in values if not unmeasurable(v) and math.isfinite(v)]
    return (min(finite), max(finite)) if finite else (math.nan, math.nan)


def _median(values: tuple[float, ...]) -> float:
    return statistics.median(values) if values else math.nan


def judge_gather(line: GatherLine) -> tuple[Verdict, str]:
    """The trials' range against each line: PASS all within, FAIL all above, WARN between or unmeasured."""
    if not line.eviction_effective:
        return Verdict.WARN, f"{line.label}: eviction not effective (nothing read from disk), cold unmeasured"
    verdicts, parts = [], []
    us = _median(line.us_per_window)
    text = f"{line.label} {us:.1f} us/window"
    if line.target_us_per_window is not None:
        text += f" (target {line.target_us_per_window:g}, shown)"
    if line.floor_us_per_window is not None:
        text += f" [disk floor {line.floor_us_per_window:.1f}{' by ' + line.floor_reader if line.floor_reader else ''}]"
    parts.append(text)
    if line.floor_ratios is not None:
        floor = f"beyond warm {_median(line.floor_ratios):.2f}x floor"
        if line.max_floor_ratio is not None:
            verdicts.append(judge_ratio(*_span(line.floor_ratios), line.max_floor_ratio))
            floor += f" (<= {line.max_floor_ratio:g})"
        parts.append(floor)
    elif line.max_floor_ratio is not None:
        verdicts.append(Verdict.WARN)
        parts.append("disk floor unmeasured")
    if line.read_ratios is None:
        verdicts.append(Verdict.WARN if line.max_read_ratio is not None else Verdict.PASS)
        parts.append("bytes read unmeasured")
    else:
        ratio = f"read {_median(line.read_ratios):.2f}x min"
        if line.max_read_ratio is not None:
            verdicts.append(judge_ratio(*_span(line.read_ratios), line.max_read_ratio))
            ratio += f" (<= {line.max_read_ratio:g})"
        parts.append(ratio)
    if line.grid_bytes < BIG_GRID_BYTES:
        parts.append(f"{line.grid_bytes / MIB:.0f} MiB grid")
    return worst(verdicts), ", ".join(parts)


def judge_frontier(line: FrontierLine) -> tuple[Verdict, str]:
    """The tick's time beyond the warm tick over the floor of what it read: PASS within the line, FAIL above."""
    if not line.eviction_effective:
        return Verdict.WARN, f"frontier {line.label}: nothing read from disk, cold unmeasured"
    text = f"frontier {line.label} {line.ratio:.2f}x warm [{line.ci_low:.2f}, {line.ci_high:.2f}]"
    if line.floor_ratio is not None:
        text += f", beyond warm {line.floor_ratio:.2f}x floor{' by ' + line.floor_reader if line.floor_reader else ''}"
    if line.threshold is None:
        return Verdict.PASS, text + " (shown)"
    if unmeasurable(line.floor_ratio):
        return Verdict.WARN, text + ", disk floor unmeasured"
    verdict = Verdict.PASS if line.floor_ratio <= line.threshold else Verdict.FAIL  # type: ignore[operator]
    return verdict, text + f" (<= {line.threshold:g})"


def judge_resident(points: tuple[ResidentPoint, ...], limit: float) -> tuple[Verdict, str, float | None]:
    """Every probe's resident file bytes over its needed bytes against ``limit``; returns the worst ratio too."""
    if not points:
        return Verdict.WARN, "resident file memory not measured", None
    verdicts, worst_ratio, worst_at, problems = [], 0.0, "", []
    for p in points:
        at = f"{p.layout}@{p.grid_bytes / MIB:.0f}MiB"
        if p.untracked_calls:
            verdicts.append(Verdict.WARN)
            problems.append(f"{at}: {p.untracked_calls} reads through get() (needed bytes unknown)")
            continue
        if unmeasurable(p.resident_file_bytes) or unmeasurable(p.needed_bytes) or not p.needed_bytes:
            verdicts.append(Verdict.WARN)
            problems.append(f"{at}: resident or needed bytes unmeasured")
            continue
        ratio = p.resident_file_bytes / p.needed_bytes  # type: ignore[operator]
        if ratio > worst_ratio:
            worst_ratio, worst_at = ratio, at
        verdicts.append(Verdict.FAIL if ratio > limit else Verdict.PASS)
        if ratio > limit:
            problems.append(f"{at}: resident {p.resident_file_bytes / MIB:.1f} MiB = {ratio:.2f}x needed")
    text = f"resident file <= {worst_ratio:.2f}x needed (<= {limit:g}) over {len(points)} probes"
    text += f", worst {worst_at}" if worst_at else ""
    if problems:
        text += "; " + "; ".join(problems[:3])
    return worst(verdicts), text, worst_ratio if worst_at else None


def judge_slope(fit: SlopeFit, threshold: float) -> tuple[Verdict, str]:
    per_gib = GIB / MIB
    if fit.slope is None or unmeasurable(fit.slope) or fit.sizes < 2:
        return Verdict.WARN, f"RssFile slope {fit.layout}: fewer than 2 sizes"
    low, high = fit.interval if fit.interval is not None else (fit.slope, fit.slope)
    text = f"RssFile slope {fit.layout} {fit.slope * per_gib:.1f} MiB/GiB [{low * per_gib:.1f}, {high * per_gib:.1f}]"
    if fit.needed_slope is not None:
        text += f", needed {fit.needed_slope * per_gib:.1f}"
    if not fit.gated:
        return Verdict.PASS, text + " (shown)"
    return judge_ratio(low, high, threshold), text + f" (<= {threshold * per_gib:g})"


def cold_lines(evidence: OutOfCoreEvidence) -> list[tuple[Verdict, str]]:
    """(a) every cold gather's and (b) every frontier tick's verdict and text; a missing part WARNs."""
    judged = [judge_gather(g) for g in evidence.gathers] or [(Verdict.WARN, "no cold gather measured")]
    return judged + ([judge_frontier(f) for f in evidence.frontier] or [(Verdict.WARN, "no frontier tick measured")])


def judge_lines(evidence: OutOfCoreEvidence | None) -> Criterion:
    """Worst of (a) gathers, (b) frontier ticks, (c) resident memory and RssFile slopes; an empty part WARNs."""
    if evidence is None:
        return Criterion(ID, NAME, Verdict.WARN, details="cannot measure: no evidence (skipped)")
    judged = cold_lines(evidence)
    verdict, text, ratio = judge_resident(evidence.resident, evidence.resident_ratio_limit)
    judged.append((verdict, text))
    judged += [judge_slope(s, evidence.slope_threshold) for s in evidence.slopes] or [
        (Verdict.WARN, "no RssFile slope fitted")]
    overall = worst(v for v, _ in judged)
    # Lines that decide the verdict first, so a reader sees why before the rest.
    ordered = sorted(judged, key=lambda item: -item[0].severity)
    details = "; ".join(f"{t}{'' if v is Verdict.PASS else ' ' + v.value}" for v, t in ordered)
    return Criterion(ID, NAME, overall, value=ratio, threshold=evidence.resident_ratio_limit,
                     unit="x needed", details=details)


def judge(evidence: OutOfCoreEvidence | None) -> Criterion:
    """The lines' verdict; a memory probe that failed caps it at WARN and is named first."""
    criterion = judge_lines(evidence)
    if evidence is None or not evidence.probe_failures:
        return criterion
    return dataclasses.replace(criterion, verdict=worst([criterion.verdict, Verdict.WARN]),
                               details=f"probe failed at {'; '.join(evidence.probe_failures)}; {criterion.details}")


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
    tiled: list[ProbeResult] = field(default_factory=list)  # memory probes in the tiled layout (full, big)
    plan: OutOfCorePlan = field(default_factory=OutOfCorePlan)

    def records(self) -> list[dict[str, Any]]:
        return [g.record() for g in self.gathers] + [f.record() for f in self.frontier]


def measure_gathers(directory: Path, plan: OutOfCorePlan, progress: ProgressCallback | None = None) -> OutOfCoreRun:
    """Both layouts' default setting (prefetch on, access auto), each grid built once and removed after."""
    run = OutOfCoreRun(plan=plan)
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


def measure_frontiers(directory: Path, plan: OutOfCorePlan, run: OutOfCoreRun,
                      progress: ProgressCallback | None = None) -> None:
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
        resident=points, slopes=slope_fits(points, gated=(plan.tiles,) if plan.judge_slope else ()),
        probe_failures=tuple(f"{r.size}: {r.error}" for r in probes if r.error is not None))
