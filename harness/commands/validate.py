"""`farm-harness validate`: collect evidence for C1..C9 from real environments, judge, print, write JSON and report."""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.acceptance import evidence

from harness.acceptance import evidence_c7_c8
from harness.acceptance.scope import COLD_ROWS, DEFAULT_BACKEND, BackendScope, backend_scope, file_backend_choices
from harness.commands.coldcache import COLD_THRESHOLD, COLD_WORKLOADS, measure_cold_rows
from harness.commands.commandline import (
    ProgressCallback,
    add_outputs,
    add_threshold,
    exit_code,
    names_of,
    progress_display,
    render_report,
    use_rich,
)
from harness.acceptance.criteria import (
    CRITERION_NAMES,
    KNOWN_CRITERIA,
    c1_env_grids_use_memmap,
    c2_observations_match_ram,
    c3_temporal_persistence,
    c5_tensor_compat,
    c7_coverage,
    c8_cross_platform,
)
from harness.acceptance.out_of_core import c9_out_of_core
from harness.acceptance.out_of_core_runs import OutOfCorePlan, OutOfCoreRun, measure_frontiers, measure_gathers, out_of_core_evidence
from harness.errors import HarnessUsageError
from harness.acceptance.performance import FULL_TIMING, QUICK_TIMING, TimingSettings, measure_performance, performance_criterion
from harness.commands.memory import FULL_SIZES, QUICK_SIZES, memory_criterion, memory_fit, memory_records, run_probes
from harness.results.document import build_result, ratio_record, write_result
from harness.probes.tempfiles import scratch_dir
from harness.verdicts import DEFAULT_THRESHOLD, Criterion, Overall, Verdict, overall, worst
from harness.workloads.catalog import GATED_WORKLOADS, WORKLOADS

DEFAULT_OUT = Path("farm-harness-out")
RESULT_NAME = "farm-harness-result.json"
# The big-world figures of C9 (--big): a 1 GiB cold gather, an 8192^2 frontier, the slope to 16384^2.
BIG_OUT_OF_CORE = OutOfCorePlan(gather_size=16384, gather_windows=10_000, frontier_size=8192, gather_trials=3, frontier_pairs=8,
                                tiled_probes=True, gather_floor_line=True, judge_slope=True)


@dataclass(frozen=True)
class ValidationPlan:
    """What one validation run measures, and how hard."""

    mode: str = "quick"
    threshold: float = DEFAULT_THRESHOLD
    workloads: tuple[str, ...] = GATED_WORKLOADS
    criteria: tuple[str, ...] = KNOWN_CRITERIA
    timing_sizes: tuple[int, ...] = (1024,)
    memory_sizes: tuple[int, ...] = QUICK_SIZES
    timing: TimingSettings = QUICK_TIMING
    cold_trials: int = 4
    cold_threshold: float = COLD_THRESHOLD
    out_of_core: OutOfCorePlan = OutOfCorePlan()
    scratch_parent: Path | None = None  # where the scratch dir goes (None: the system temp dir)
    backend: str = DEFAULT_BACKEND  # the registered file backend measured against RAM
    cold_rows: bool = True  # False where they do not apply to the backend (see backend_scope)

    @classmethod
    def for_mode(cls, quick: bool, big: bool = False, **changes: Any) -> ValidationPlan:
        """Quick (CI), full, or full with the big-world figures of C9 (``--big``: they do not fit full's budget)."""
        if quick and big:
            raise HarnessUsageError("--quick and --big are exclusive (--big measures 1 GiB grids)")
        if quick:
            return cls(**changes)
        full = {"mode": "full", "timing_sizes": (1024, 4096), "memory_sizes": FULL_SIZES,
                "timing": FULL_TIMING, "cold_trials": 6,
                "out_of_core": OutOfCorePlan(gather_size=4096, gather_windows=4000, frontier_size=2048,
                                             gather_trials=2, frontier_pairs=6, tiled_probes=True, judge_slope=True)}
        if big:
            full.update(mode="big", out_of_core=BIG_OUT_OF_CORE)
        return cls(**{**full, **changes})

    @property
    def evidence_size(self) -> int:
        return self.timing_sizes[0]

    @property
    def cold_workloads(self) -> tuple[str, ...]:
        return tuple(w for w in self.workloads if w in COLD_WORKLOADS) if self.cold_rows else ()

    def wants(self, *ids: str) -> bool:
        return any(cid in self.criteria for cid in ids)


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


def _raised(cid: str, exc: Exception) -> Criterion:
    return Criterion(id=cid, name=CRITERION_NAMES[cid], verdict=Verdict.FAIL,
                     details=f"raised {type(exc).__name__}: {exc}")


def _guarded(cid: str, collect: Callable[[], Criterion]) -> Criterion:
    """Run one check; an engine error becomes a FAIL row naming the exception (Ctrl-C still stops)."""
    try:
        return collect()
    except Exception as exc:
        return _raised(cid, exc)


def _step_count(plan: ValidationPlan) -> int:
    steps = sum(plan.wants(c) for c in ("C1", "C3", "C8")) + plan.wants("C2", "C5")
    if plan.wants("C4", "C7"):
        steps += len(plan.workloads) * len(plan.timing_sizes)
    if plan.wants("C4"):
        steps += len(plan.cold_workloads)
    steps += len(plan.memory_sizes) if plan.wants("C6", "C9") else 0
    tiled = len(plan.memory_sizes) if plan.out_of_core.tiled_probes else 0
    return steps + (tiled + 2 * len(plan.out_of_core.layouts) if plan.wants("C9") else 0)


def run_validation(
    plan: ValidationPlan, *, file_backend: str | None = None, probe_file_backend: str | None = None,
    progress: ProgressCallback | None = None,
) -> ValidationOutcome:
    """Collect the evidence ``plan`` asks for in a scratch dir (removed on any exit) and judge it.

    ``file_backend`` (default: ``plan.backend``) is the registered backend measured against RAM;
    checks that do not apply to it are skipped and listed in the outcome's scope, with the reason.
    """
    started = time.perf_counter()
    total, done = _step_count(plan), 0
    file_backend = plan.backend if file_backend is None else file_backend
    if probe_file_backend is None and file_backend != DEFAULT_BACKEND:
        probe_file_backend = file_backend

    def step(label: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total, label)

    def sub_progress(offset: int, prefix: str) -> ProgressCallback:
        return lambda finished, _count, label: progress(offset + finished, total, prefix + label) if progress else None

    rows: dict[str, Criterion] = {}
    ratios: list[dict[str, Any]] = []
    memory: list[dict[str, Any]] = []
    outofcore: list[dict[str, Any]] = []
    fit = None
    size = plan.evidence_size
    with scratch_dir(parent=plan.scratch_parent) as scratch:
        scope = backend_scope(file_backend, scratch)
        plan = dataclasses.replace(plan, criteria=tuple(c for c in plan.criteria if scope.applies(c)),
                                   cold_rows=plan.cold_rows and scope.applies(COLD_ROWS))
        total = _step_count(plan)
        if plan.wants("C1"):
            rows["C1"] = _guarded("C1", lambda: c1_env_grids_use_memmap(
                evidence.collect_env_grid_evidence(scratch, size, file_backend=file_backend)))
            step("C1 files")
        if plan.wants("C2", "C5"):
            try:
                pair = evidence.collect_observation_evidence(scratch, size, file_backend=file_backend)
                rows["C2"], rows["C5"] = c2_observations_match_ram(pair.observation), c5_tensor_compat(pair.tensor)
            except Exception as exc:
                rows["C2"], rows["C5"] = _raised("C2", exc), _raised("C5", exc)
            step("C2/C5 observations")
        if plan.wants("C3"):
            rows["C3"] = _guarded("C3", lambda: c3_temporal_persistence(
                evidence.collect_persistence_evidence(scratch, size, file_backend=file_backend)))
            step("C3 persistence")
        if plan.wants("C8"):
            rows["C8"] = _guarded("C8", lambda: c8_cross_platform(
                evidence_c7_c8.collect_portability_evidence(scratch)))
            step("C8 portability")
        if plan.wants("C4", "C7"):
            perf = measure_performance(plan.workloads, plan.timing_sizes, scratch, plan.timing,
                                       threshold=plan.threshold, file_backend=file_backend,
                                       progress=sub_progress(done, "warm "))
            done += len(plan.workloads) * len(plan.timing_sizes)
            ratios += [ratio_record(m.timing, threshold=plan.threshold, size=m.size) for m in perf.rows]
            rows["C7"] = c7_coverage(evidence_c7_c8.coverage_evidence(perf.ran))
            cold = []
            if plan.wants("C4") and plan.cold_workloads:
                cold = measure_cold_rows(plan.cold_workloads, plan.timing_sizes[:1], scratch,
                                         trials=plan.cold_trials, threshold=plan.cold_threshold,
                                         progress=sub_progress(done, "cold "))
                done += len(plan.cold_workloads)
                ratios += [row.record() for row in cold]
            rows["C4"] = performance_criterion(perf, [row.row for row in cold])
        probes = []
        if plan.wants("C6", "C9"):
            probes = run_probes(plan.memory_sizes, scratch, file_backend=probe_file_backend,
                                progress=sub_progress(done, "memory "))
            done += len(plan.memory_sizes)
            if plan.wants("C6"):
                rows["C6"] = memory_criterion(probes)
        if plan.wants("C9"):
            rows["C9"], records, tiled = _out_of_core(plan, scratch, probes, probe_file_backend,
                                                      sub_progress(done, ""))
            outofcore += records
            probes += tiled
        if probes:
            memory, fit = memory_records(probes), memory_fit(probes)
    criteria = tuple(rows[cid] for cid in KNOWN_CRITERIA if cid in rows and cid in plan.criteria)
    return ValidationOutcome(
        verdict=overall(c.verdict for c in criteria), criteria=criteria, ratios=tuple(ratios),
        memory=tuple(memory), memory_fit=fit, duration_s=time.perf_counter() - started, scope=scope,
        outofcore=tuple(outofcore),
    )


def _out_of_core(plan: ValidationPlan, scratch: Path, probes: list[Any], probe_file_backend: str | None,
                 progress: ProgressCallback) -> tuple[Criterion, list[dict[str, Any]], list[Any]]:
    """C9: tiled memory probes beside the row ones (full, big), cold gathers, frontier ticks; an engine error FAILs it."""
    big = plan.out_of_core
    tiled = []
    if big.tiled_probes:
        tiled = run_probes(plan.memory_sizes, scratch, file_backend=probe_file_backend, layout=big.tiles,
                           progress=lambda d, _n, label: progress(d, 0, "memory " + label))
    count = len(tiled)
    run = OutOfCoreRun()
    try:
        run = measure_gathers(scratch, big, progress=lambda d, _n, label: progress(count + d, 0, label))
        measure_frontiers(scratch, big, run, progress=lambda d, _n, label: progress(count + 2 + d, 0, label))
    except Exception as exc:
        return _raised("C9", exc), run.records(), tiled
    criterion = c9_out_of_core(out_of_core_evidence(run, [*probes, *tiled], big))
    failed = [f"{r.size}: {r.error}" for r in [*probes, *tiled] if r.error is not None]
    if failed:
        criterion = dataclasses.replace(criterion, verdict=worst([criterion.verdict, Verdict.WARN]),
                                        details=f"probe failed at {'; '.join(failed)}; {criterion.details}")
    return criterion, run.records(), tiled


def _number(value: object, spec: str = ".3g") -> str:
    return "-" if value is None or (isinstance(value, float) and not math.isfinite(value)) else format(value, spec)


def _interval(low: object, high: object) -> str:
    return "-" if low is None or high is None else f"{_number(low)}-{_number(high)}"


def outcome_tables(outcome: ValidationOutcome) -> tuple[list[list[str]], list[list[str]]]:
    """(criteria rows, ratio rows) as text cells, for the rich or the plain table."""
    criteria = [[c.id, c.verdict.value, _number(c.value), _interval(c.ci_low, c.ci_high), _number(c.threshold),
                 c.unit, c.details] for c in outcome.criteria]
    criteria += [[check, NOT_APPLICABLE, "-", "-", "-", "", reason] for check, reason in outcome.scope.not_applicable.items()]
    ratios = [[str(r["workload"]), str(r["size"]), str(r["cache"]), _number(r["ratio"]),
               _interval(r["ci_low"], r["ci_high"]), _number(r["threshold"]),
               str(r["verdict"]) + ("" if r["cache"] == "warm" else " (info)"), str(r["blocks"])]
              for r in outcome.ratios]
    return criteria, ratios


def outofcore_table(outcome: ValidationOutcome) -> list[list[str]]:
    """C9's measurements as text cells: cold gathers (us/window, read / minimum) and frontier ticks (cold/warm)."""
    rows = []
    for r in outcome.outofcore:
        floor = f"{_number(r.get('floor_ratio'))}x floor ({r.get('floor_reader') or '-'})"
        if r["kind"] == "cold_gather":
            rows.append(["cold gather", r["layout"], str(r["size"]), f"{_number(r['us_per_window'])} us/window",
                         f"read {_number(r['read_ratio'])}x min", f"warm {_number(r['warm_us_per_window'])} us/window",
                         floor])
        else:
            rows.append(["frontier tick", r["layout"], str(r["size"]), f"{_number(r['ratio'])}x warm",
                         _interval(r["ci_low"], r["ci_high"]), "", floor])
    return rows


OUTOFCORE_HEADER = ["C9", "layout", "size", "cold", "", "beside", "beyond warm"]
CRITERIA_HEADER = ["id", "verdict", "value", "95% CI", "limit", "unit", "details"]
NOT_APPLICABLE = "n/a"  # shown, never judged: a skipped check neither passes nor fails the run


def ratio_header(backend: str = DEFAULT_BACKEND) -> list[str]:
    return ["workload", "size", "cache", f"{backend}/RAM", "95% CI", "limit", "verdict", "pairs"]


RATIO_HEADER = ratio_header()


def _plain_table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows)]
    widths[-1] = 0  # the last column (details) is not padded
    return ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in [header, *rows]]


def print_outcome(outcome: ValidationOutcome, rich_output: bool | None = None) -> None:
    """The criteria table, the ratio rows and the overall verdict: rich on a terminal, plain otherwise."""
    criteria, ratios = outcome_tables(outcome)
    if use_rich() if rich_output is None else rich_output:
        from rich.console import Console
        from rich.table import Table

        console = Console()
        backend = outcome.scope.backend
        tables = [("criteria", CRITERIA_HEADER, criteria), (f"{backend}/RAM ratios", ratio_header(backend), ratios)]
        if outcome.outofcore:
            tables.append(("out-of-core (C9)", OUTOFCORE_HEADER, outofcore_table(outcome)))
        for title, header, rows in tables:
            table = Table(title=title)
            for name in header:
                table.add_column(name, overflow="fold")
            for row in rows:
                table.add_row(*row)
            console.print(table)
        console.print(f"[bold]overall: {outcome.verdict.value}[/bold] ({outcome.duration_s:.1f} s)")
        return
    lines = _plain_table(CRITERIA_HEADER, criteria) + [""] + _plain_table(ratio_header(outcome.scope.backend), ratios)
    if outcome.outofcore:
        lines += [""] + _plain_table(OUTOFCORE_HEADER, outofcore_table(outcome))
    for line in lines:
        print(line)
    print(f"overall: {outcome.verdict.value} ({outcome.duration_s:.1f} s)")


def write_report(json_path: Path, out_dir: Path) -> None:
    """Render the report with the `report` command (an entry point in PLUGIN_GROUP); one line if there is none."""
    render_report(json_path, out_dir)


def prepare_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="small sizes, fewer blocks (CI)")
    parser.add_argument("--big", action="store_true",
                        help="full, plus C9's big-world figures (1 GiB cold gathers, an 8192x8192 frontier)")
    add_threshold(parser, DEFAULT_THRESHOLD)
    add_outputs(parser, f"directory for the result JSON and the report (default {DEFAULT_OUT})",
                f"write the result JSON here (default OUT/{RESULT_NAME})", out_default=str(DEFAULT_OUT))
    parser.add_argument("--workloads", type=names_of(WORKLOADS, "workload"), help="comma-separated workload names")
    parser.add_argument("--criteria", type=names_of(KNOWN_CRITERIA, "criterion", upper=True),
                        help="comma-separated criterion ids, e.g. C1,C4")
    parser.add_argument("--backend", default=DEFAULT_BACKEND, choices=file_backend_choices(),
                        help=f"the registered file backend measured against RAM (default {DEFAULT_BACKEND}); "
                             "checks that do not apply to it are listed as n/a with the reason")


def run(args: argparse.Namespace) -> int:
    """The `validate` subcommand: exit 0 PASS, 1 FAIL, 3 INCONCLUSIVE."""
    changes: dict[str, Any] = {"threshold": args.threshold}
    if args.workloads:
        changes["workloads"] = tuple(args.workloads)
    if args.criteria:
        changes["criteria"] = tuple(args.criteria)
    changes["backend"] = args.backend
    plan = ValidationPlan.for_mode(args.quick, big=args.big, **changes)
    with progress_display("validate", _step_count(plan)) as progress:
        outcome = run_validation(plan, progress=progress)
    print_outcome(outcome)
    json_path = args.json if args.json is not None else args.out / RESULT_NAME
    json_path.parent.mkdir(parents=True, exist_ok=True)
    document = build_result(verdict=outcome.verdict, mode=plan.mode, threshold=plan.threshold,
                            criteria=outcome.criteria, duration_s=outcome.duration_s, ratios=outcome.ratios,
                            memory=outcome.memory, memory_fit=outcome.memory_fit, outofcore=outcome.outofcore,
                            backend=outcome.scope.backend, not_applicable=outcome.scope.not_applicable)
    write_result(document, json_path)
    print(f"result JSON: {json_path}")
    write_report(json_path, args.out)
    return exit_code(outcome.verdict)
