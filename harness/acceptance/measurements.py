"""The measurements a validation run makes, in order, each once: what it needs from the plan, its steps, how it runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.acceptance import env_grids, observations, persistence, portability
from harness.acceptance.checks import (
    CHECKS,
    COLD_ROWS,
    ENV_GRIDS,
    MEMORY_PROBES,
    OBSERVATIONS,
    OUT_OF_CORE,
    PERSISTENCE,
    PORTABILITY,
    WARM_TIMING,
)
from harness.acceptance.out_of_core import OutOfCoreRun, measure_frontiers, measure_gathers
from harness.acceptance.performance import measure_performance
from harness.acceptance.plan import ValidationPlan
from harness.probes.cold_windows import measure_cold_rows
from harness.probes.memory import run_probes
from harness.progress import ProgressCallback


@dataclass
class MeasureContext:
    """Where and on what one measurement runs, and its progress (steps counted from its own first)."""

    plan: ValidationPlan
    scratch: Path
    file_backend: str
    probe_file_backend: str | None
    progress: ProgressCallback
    failure: Exception | None = None  # set by a measurement that keeps what it measured before an error


@dataclass(frozen=True)
class Measurement:
    """One measurement: run when a planned check needs it (and ``also`` agrees); ``steps`` of progress."""

    name: str
    steps: Callable[[ValidationPlan], int]
    run: Callable[[MeasureContext], Any]
    label: str | None = None  # a one-step measurement's progress label, shown after it ran
    guarded: bool = False  # an error FAILs the checks that read it (else it stops the run)
    also: Callable[[ValidationPlan], bool] = lambda plan: True

    def wanted(self, plan: ValidationPlan) -> bool:
        needed = any(self.name in check.needs for check in CHECKS if check.id in plan.criteria)
        return needed and self.also(plan)


def _out_of_core(ctx: MeasureContext) -> OutOfCoreRun:
    """C9: tiled memory probes beside the row ones (full, big), cold gathers, frontier ticks; an engine error
    in the gathers or ticks is kept as the failure, with what was measured before it."""
    big, progress = ctx.plan.out_of_core, ctx.progress
    tiled = []
    if big.tiled_probes:
        tiled = run_probes(ctx.plan.memory_sizes, ctx.scratch, file_backend=ctx.probe_file_backend, layout=big.tiles,
                           progress=lambda d, _n, label: progress(d, 0, "memory " + label))
    count = len(tiled)
    run = OutOfCoreRun(plan=big)
    try:
        run = measure_gathers(ctx.scratch, big, progress=lambda d, _n, label: progress(count + d, 0, label))
        measure_frontiers(ctx.scratch, big, run, progress=lambda d, _n, label: progress(count + 2 + d, 0, label))
    except Exception as exc:
        ctx.failure = exc
    run.tiled = tiled
    return run


MEASUREMENTS: tuple[Measurement, ...] = (
    Measurement(ENV_GRIDS, lambda plan: 1, label="C1 files", guarded=True, run=lambda ctx: (
        env_grids.collect_env_grid_evidence(ctx.scratch, ctx.plan.evidence_size, file_backend=ctx.file_backend))),
    Measurement(OBSERVATIONS, lambda plan: 1, label="C2/C5 observations", guarded=True, run=lambda ctx: (
        observations.collect_observation_evidence(ctx.scratch, ctx.plan.evidence_size, file_backend=ctx.file_backend))),
    Measurement(PERSISTENCE, lambda plan: 1, label="C3 persistence", guarded=True, run=lambda ctx: (
        persistence.collect_persistence_evidence(ctx.scratch, ctx.plan.evidence_size, file_backend=ctx.file_backend))),
    Measurement(PORTABILITY, lambda plan: 1, label="C8 portability", guarded=True, run=lambda ctx: (
        portability.collect_portability_evidence(ctx.scratch))),
    Measurement(WARM_TIMING, lambda plan: len(plan.workloads) * len(plan.timing_sizes), run=lambda ctx: (
        measure_performance(ctx.plan.workloads, ctx.plan.timing_sizes, ctx.scratch, ctx.plan.timing,
                            threshold=ctx.plan.threshold, file_backend=ctx.file_backend, progress=ctx.progress))),
    Measurement(COLD_ROWS, lambda plan: len(plan.cold_workloads), also=lambda plan: bool(plan.cold_workloads),
                run=lambda ctx: measure_cold_rows(ctx.plan.cold_workloads, ctx.plan.timing_sizes[:1], ctx.scratch,
                                                  trials=ctx.plan.cold_trials, threshold=ctx.plan.cold_threshold,
                                                  progress=ctx.progress)),
    Measurement(MEMORY_PROBES, lambda plan: len(plan.memory_sizes), run=lambda ctx: (
        run_probes(ctx.plan.memory_sizes, ctx.scratch, file_backend=ctx.probe_file_backend, progress=ctx.progress))),
    Measurement(OUT_OF_CORE, lambda plan: (len(plan.memory_sizes) if plan.out_of_core.tiled_probes else 0)
                + 2 * len(plan.out_of_core.layouts), run=_out_of_core),
)
PROGRESS_PREFIX = {WARM_TIMING: "warm ", COLD_ROWS: "cold ", MEMORY_PROBES: "memory "}


def planned(plan: ValidationPlan) -> tuple[Measurement, ...]:
    """Every measurement the plan's checks need, in the order they run."""
    return tuple(m for m in MEASUREMENTS if m.wanted(plan))


def step_count(plan: ValidationPlan) -> int:
    return sum(m.steps(plan) for m in planned(plan))
