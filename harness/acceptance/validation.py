"""run_validation: plan every measurement the checks need, measure each once, judge every check, gather the records."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.acceptance.checks import (
    CHECKS,
    COLD_ROWS,
    MEMORY_PROBES,
    OUT_OF_CORE,
    WARM_TIMING,
)
from harness.acceptance.criterion_rows import raised
from harness.acceptance.measurements import MEASUREMENTS, PROGRESS_PREFIX, MeasureContext, planned, step_count
from harness.acceptance.plan import ValidationPlan
from harness.acceptance.scope import COLD_ROWS as COLD_ROWS_SCOPE
from harness.acceptance.scope import DEFAULT_BACKEND, BackendScope, backend_scope
from harness.probes.memory import memory_fit, memory_records
from harness.probes.tempfiles import scratch_dir
from harness.progress import ProgressCallback
from harness.results.document import ratio_record
from harness.verdicts import Criterion, Overall, overall


@dataclass(frozen=True)
class ValidationOutcome:
    """Everything a run found: criterion rows, ratio rows (warm and cold) and memory records."""

    verdict: Overall
    criteria: tuple[Criterion, ...]
    ratios: tuple[dict[str, Any], ...]
    memory: tuple[dict[str, Any], ...]
    memory_fit: dict[str, float] | None
    duration_s: float
    scope: BackendScope = BackendScope()
    outofcore: tuple[dict[str, Any], ...] = ()


def measure(plan: ValidationPlan, scratch: Path, file_backend: str, probe_file_backend: str | None,
            progress: ProgressCallback | None) -> tuple[dict[str, Any], dict[str, Exception]]:
    """Run every planned measurement once, in order: what each returned, and the errors of those that failed."""
    total, done = step_count(plan), 0
    measured: dict[str, Any] = {}
    failures: dict[str, Exception] = {}
    for measurement in planned(plan):
        prefix = PROGRESS_PREFIX.get(measurement.name, "")

        def sub_progress(finished: int, _count: int, label: str, offset: int = done, prefix: str = prefix) -> None:
            if progress is not None:
                progress(offset + finished, total, prefix + label)

        ctx = MeasureContext(plan, scratch, file_backend, probe_file_backend, sub_progress)
        try:
            measured[measurement.name] = measurement.run(ctx)
        except Exception as exc:  # an engine error is a finding of the checks that read it; Ctrl-C still stops
            if not measurement.guarded:
                raise
            failures[measurement.name] = exc
        if ctx.failure is not None:
            failures[measurement.name] = ctx.failure
        done += measurement.steps(plan)
        if measurement.label is not None and progress is not None:
            progress(done, total, measurement.label)
    return measured, failures


def judge_all(plan: ValidationPlan, measured: Mapping[str, Any], failures: Mapping[str, Exception]) -> tuple[Criterion, ...]:
    """Each planned check, in registry order: its judge on its evidence, or FAIL naming the error of what it reads."""
    rows = []
    guarded = {m.name for m in MEASUREMENTS if m.guarded}
    for check in CHECKS:
        if check.id not in plan.criteria:
            continue
        failed = [failures[name] for name in check.needs if name in failures]
        if failed:
            rows.append(raised(check.id, check.name, failed[0]))
            continue
        try:
            rows.append(check.judge(check.collect(measured)))
        except Exception as exc:  # checks over guarded measurements FAIL naming the error, as their measuring does
            if not guarded & set(check.needs):
                raise
            rows.append(raised(check.id, check.name, exc))
    return tuple(rows)


def result_records(plan: ValidationPlan, measured: Mapping[str, Any]) -> dict[str, Any]:
    """The result JSON's ratio rows (warm, then cold), memory records and fit, and out-of-core records."""
    ratios = [ratio_record(m.timing, threshold=plan.threshold, size=m.size) for m in measured[WARM_TIMING].rows] \
        if WARM_TIMING in measured else []
    ratios += [row.record() for row in measured.get(COLD_ROWS, ())]
    run = measured.get(OUT_OF_CORE)
    probes = [*measured.get(MEMORY_PROBES, ()), *(run.tiled if run is not None else ())]
    return {"ratios": tuple(ratios), "memory": tuple(memory_records(probes)) if probes else (),
            "memory_fit": memory_fit(probes) if probes else None,
            "outofcore": tuple(run.records()) if run is not None else ()}


def run_validation(
    plan: ValidationPlan, *, file_backend: str | None = None, probe_file_backend: str | None = None,
    progress: ProgressCallback | None = None,
) -> ValidationOutcome:
    """Measure what ``plan`` asks for in a scratch dir (removed on any exit), then judge it.

    ``file_backend`` (default: ``plan.backend``) is the registered backend measured against RAM;
    checks that do not apply to it are skipped and listed in the outcome's scope, with the reason.
    """
    started = time.perf_counter()
    file_backend = plan.backend if file_backend is None else file_backend
    if probe_file_backend is None and file_backend != DEFAULT_BACKEND:
        probe_file_backend = file_backend
    with scratch_dir(parent=plan.scratch_parent) as scratch:
        scope = backend_scope(file_backend, scratch)
        plan = dataclasses.replace(plan, criteria=tuple(c.id for c in CHECKS if c.id in plan.criteria and c.applies(scope)),
                                   cold_rows=plan.cold_rows and scope.applies(COLD_ROWS_SCOPE))
        measured, failures = measure(plan, scratch, file_backend, probe_file_backend, progress)
        criteria = judge_all(plan, measured, failures)
    records = result_records(plan, measured)
    return ValidationOutcome(
        verdict=overall(c.verdict for c in criteria), criteria=criteria, ratios=records["ratios"],
        memory=records["memory"], memory_fit=records["memory_fit"], duration_s=time.perf_counter() - started,
        scope=scope, outofcore=records["outofcore"],
    )
