"""C6, memory scaling: anonymous memory stays flat as the grid grows (one fresh process per size), fitted and judged."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from harness.acceptance.criterion_rows import GIB, MIB, not_measured, row
from harness.probes.memory import ProbeResult
from harness.probes.stats import fit_memory_slope
from harness.verdicts import Criterion, Verdict, judge_ratio, unmeasurable

ID = "C6"
NAME = "memory scales with grid size, not loaded into RAM"


@dataclass(frozen=True)
class MemoryScalingEvidence:
    """C6: anonymous memory per grid size (each measured in a fresh process) and its fitted slope."""
    proc_available: bool  # /proc/self/smaps_rollup (or status) could be read
    grid_bytes: tuple[float, ...]  # total grid bytes per measured size
    anon_bytes: tuple[float | None, ...]  # Pss_Anon (or RssAnon) per size, same order
    # Bytes of anon memory per byte of grid over the measured points (harness.probes.stats.fit_memory_slope)
    # and its t-interval (None below 3 points); None when no fit was made.
    slope: float | None = None
    slope_interval: tuple[float, float] | None = None
    probe_failures: tuple[str, ...] = ()  # "size: error" of probes that gave no record (named, not fitted)


def judge_scaling(
    evidence: MemoryScalingEvidence | None, slope_threshold: float = 0.01, max_growth_bytes: float = 64 * MIB
) -> Criterion:
    """Judge the anon-vs-grid slope (bytes per byte) like a ratio; too much absolute growth FAILs."""
    if evidence is None:
        return not_measured(ID, NAME)
    if not evidence.proc_available:
        return not_measured(ID, NAME, "/proc is not available")
    points = [(g, a) for g, a in zip(evidence.grid_bytes, evidence.anon_bytes) if not unmeasurable(a)]
    if len(points) < 2 or len({g for g, _ in points}) < 2:
        return not_measured(ID, NAME, "fewer than 2 grid sizes measured")
    if evidence.slope is None or unmeasurable(evidence.slope):
        return not_measured(ID, NAME, "no slope was fitted")
    points.sort()
    grid, anon = zip(*points)
    slope = evidence.slope
    low, high = evidence.slope_interval if evidence.slope_interval is not None else (slope, slope)
    growth = anon[-1] - anon[0]
    verdict = judge_ratio(low, high, slope_threshold)
    if growth >= max_growth_bytes:
        verdict = Verdict.FAIL
    per_gib = MIB / GIB  # report the slope as MiB of anon memory per GiB of grid
    details = (f"anon grew {growth / MIB:.1f} MiB (limit {max_growth_bytes / MIB:.0f}) from "
               f"{grid[0] / MIB:.0f} to {grid[-1] / MIB:.0f} MiB of grid")
    return row(
        ID, NAME, verdict, details, value=slope / per_gib, ci_low=low / per_gib, ci_high=high / per_gib,
        threshold=slope_threshold / per_gib, unit="MiB/GiB",
    )


def scaling_evidence_of(proc_available: bool, grid_bytes: Sequence[float],
                        anon_bytes: Sequence[float | None]) -> MemoryScalingEvidence:
    """C6 evidence from anon bytes per grid size, with the slope fitted over the measured points."""
    points = sorted((g, a) for g, a in zip(grid_bytes, anon_bytes) if not unmeasurable(a))
    slope, interval = None, None
    if len({g for g, _ in points}) >= 2:
        slope, _, _, interval = fit_memory_slope([g for g, _ in points], [a for _, a in points])
    return MemoryScalingEvidence(proc_available, tuple(grid_bytes), tuple(anon_bytes), slope, interval)


def scaling_evidence(results: Sequence[ProbeResult]) -> MemoryScalingEvidence:
    measured = [r for r in results if r.record is not None]
    proc = any(r.record.get("proc_available") for r in measured if r.record is not None)
    return scaling_evidence_of(proc, [float(r.record["grid_bytes"]) for r in measured if r.record is not None],
                               [r.anon_bytes for r in measured])


def memory_evidence(results: Sequence[ProbeResult]) -> MemoryScalingEvidence:
    """C6 evidence from the row-layout probes (the default); failed probes are named, the fit uses the others."""
    results = [r for r in results if r.record is None or r.record.get("layout", "rows") == "rows"]
    failed = tuple(f"{r.size}: {r.error}" for r in results if r.error is not None)
    return dataclasses.replace(scaling_evidence(results), probe_failures=failed)


def judge(evidence: MemoryScalingEvidence | None) -> Criterion:
    """The slope's verdict; a failed probe is named in the details."""
    criterion = judge_scaling(evidence)
    if evidence is None or not evidence.probe_failures:
        return criterion
    return dataclasses.replace(criterion, details=f"{criterion.details}; probe failed at {'; '.join(evidence.probe_failures)}")


def memory_criterion(results: Sequence[ProbeResult]) -> Criterion:
    """C6 from the row-layout probes (the default); a failed probe is named in the details (the fit uses the others)."""
    return judge(memory_evidence(results))


