"""C4, performance: paired RAM-vs-file-backend timing of every selected workload at every size, judged row by row."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.progress import ProgressCallback
from harness.acceptance.criterion_rows import finite_or_none, not_measured, row
from harness.verdicts import RatioRow
from harness.probes.sequential import SamplingBudget, measure_until_decided
from harness.probes.timing import PairedTiming
from harness.verdicts import DEFAULT_THRESHOLD, Criterion, Verdict, worst
from harness.workloads.catalog import WORKLOADS, build_workload

ID = "C4"
NAME = "performance within threshold"
# The seed's acceptance table names these four; a run without one of them cannot PASS C4.
REQUIRED_WORKLOADS: tuple[str, ...] = ("resource_windows", "environmental_windows", "temporal_windows", "observe_all")


@dataclass(frozen=True)
class TimingSettings:
    """How hard to measure: pairs per row, block length, warm-up, a per-row time budget, and the
    extra seconds (per row, and for the whole run) that undecided rows may spend on more pairs."""

    blocks: int = 30
    min_block_s: float = 0.010
    warmup_blocks: int = 2
    time_budget_s: float | None = 6.0
    seed: int = 0
    extra_row_s: float = 0.0
    extra_run_s: float = 0.0


# Quick: 7 rows of <= 1.6 s, plus up to 20 s of extra pairs in all for rows still undecided (a
# quiet machine decides in the first pairs and stays within 30 s; a busy one within 60 s).
QUICK_TIMING = TimingSettings(blocks=16, time_budget_s=1.6, extra_row_s=8.0, extra_run_s=20.0)
FULL_TIMING = TimingSettings(blocks=30, time_budget_s=5.0, extra_row_s=15.0, extra_run_s=60.0)


@dataclass(frozen=True)
class MeasuredRow:
    """One workload at one size: its paired timing and the judged row."""

    workload: str
    size: int
    timing: PairedTiming
    row: RatioRow


@dataclass(frozen=True)
class PerformanceRun:
    """Every row measured, plus the (workload, size, error) of rows that raised."""

    rows: tuple[MeasuredRow, ...]
    errors: tuple[tuple[str, int, str], ...] = ()

    @property
    def ran(self) -> tuple[str, ...]:
        """Workloads with at least one measured row and no error."""
        failed = {name for name, _, _ in self.errors}
        return tuple(dict.fromkeys(r.workload for r in self.rows if r.workload not in failed))


def measure_workload(
    name: str, size: int, directory: Path, settings: TimingSettings, *,
    threshold: float = DEFAULT_THRESHOLD, file_backend: str = "memmap", budget: SamplingBudget | None = None,
) -> MeasuredRow:
    """Build ``name`` for RAM and memmap (files in ``directory``), time them paired until the
    sequential rule decides (harness.probes.sequential) or the budget runs out, close both."""
    ram = build_workload(name, "ram", size, directory=directory, seed=settings.seed)
    try:
        memmap = build_workload(name, "memmap", size, directory=directory, seed=settings.seed,
                                file_backend=file_backend)
        try:
            timing = measure_until_decided(
                ram.run, memmap.run, threshold, budget=budget, workload=name, blocks=settings.blocks,
                min_block_s=settings.min_block_s, warmup_blocks=settings.warmup_blocks, seed=settings.seed,
                time_budget_s=settings.time_budget_s,
            )
        finally:
            memmap.close()
    finally:
        ram.close()
    row = RatioRow(workload=name, ratio=timing.ratio, ci_low=timing.ci_low, ci_high=timing.ci_high,
                   threshold=threshold, size=size, cache="warm", gating=WORKLOADS[name].gated)
    return MeasuredRow(name, size, timing, row)


def measure_performance(
    workloads: Sequence[str], sizes: Sequence[int], directory: Path, settings: TimingSettings, *,
    threshold: float = DEFAULT_THRESHOLD, file_backend: str = "memmap",
    progress: ProgressCallback | None = None,
) -> PerformanceRun:
    """Measure every (workload, size); a workload that raises is recorded, the others still run."""
    rows: list[MeasuredRow] = []
    errors: list[tuple[str, int, str]] = []
    plan = [(name, size) for size in sizes for name in workloads]
    budget = SamplingBudget(settings.extra_run_s, settings.extra_row_s)
    for done, (name, size) in enumerate(plan, start=1):
        try:
            rows.append(measure_workload(name, size, directory, settings, threshold=threshold,
                                         file_backend=file_backend, budget=budget))
        except Exception as exc:  # an engine error is a finding, reported in C4; Ctrl-C still stops
            errors.append((name, size, f"{type(exc).__name__}: {exc}"))
        if progress is not None:
            progress(done, len(plan), f"{name}@{size}")
    return PerformanceRun(tuple(rows), tuple(errors))


@dataclass(frozen=True)
class PerformanceEvidence:
    """C4: every ratio row measured, and the workloads that must have a gating row."""
    rows: tuple[RatioRow, ...]
    required_workloads: tuple[str, ...] = ()
    errors: tuple[tuple[str, int, str], ...] = ()  # (workload, size, error) of rows that raised: FAIL


def judge_rows(evidence: PerformanceEvidence | None) -> Criterion:
    """Worst gating ratio row decides; a required workload without a row caps the verdict at WARN."""
    gating = [] if evidence is None else [row for row in evidence.rows if row.gating]
    if not gating:
        return not_measured(ID, NAME, "no gating ratio rows")
    # Worst row: most severe verdict, then the largest ratio among those.
    worst_row = max(gating, key=lambda r: (r.verdict.severity, -math.inf if math.isnan(r.ratio) else r.ratio))
    verdict = worst_row.verdict
    missing = sorted(set(evidence.required_workloads) - {row.workload for row in gating})
    label = worst_row.workload + (f"@{worst_row.size}" if worst_row.size is not None else "")
    details = f"worst of {len(gating)} rows: {label} ({worst_row.cache})"
    if missing:
        verdict = worst([verdict, Verdict.WARN])
        details += f"; not measured: {', '.join(missing)}"
    return row(
        ID, NAME, verdict, details, value=finite_or_none(worst_row.ratio), ci_low=finite_or_none(worst_row.ci_low),
        ci_high=finite_or_none(worst_row.ci_high), threshold=worst_row.threshold, unit="ratio",
    )


def judge(evidence: PerformanceEvidence | None) -> Criterion:
    """The rows' verdict; a workload that raised FAILs it, named first in the details."""
    criterion = judge_rows(evidence)
    if evidence is None or not evidence.errors:
        return criterion
    name, size, message = evidence.errors[0]
    more = f" (+{len(evidence.errors) - 1} more)" if len(evidence.errors) > 1 else ""
    details = f"{name}@{size} raised {message}{more}; {criterion.details}"
    return dataclasses.replace(criterion, verdict=Verdict.FAIL, details=details)


def performance_evidence(run: PerformanceRun, extra_rows: Sequence[RatioRow] = ()) -> PerformanceEvidence:
    """The measured rows (cold rows are non-gating), the required workloads and the rows that raised."""
    required = tuple(name for name in REQUIRED_WORKLOADS if name in WORKLOADS)
    return PerformanceEvidence(rows=tuple(r.row for r in run.rows) + tuple(extra_rows), required_workloads=required,
                               errors=run.errors)


def performance_criterion(run: PerformanceRun, extra_rows: Sequence[RatioRow] = ()) -> Criterion:
    """C4 from the measured rows (cold rows are non-gating); a workload that raised FAILs it."""
    return judge(performance_evidence(run, extra_rows))
