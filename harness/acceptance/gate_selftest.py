"""The self-test of the real gate: C4's paired rows and C9's cold lines on real workloads, against faulty backends registered through the store contract."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.probes.background_load import busy_processes
from harness.progress import ProgressCallback
from harness.acceptance.out_of_core import cold_lines
from harness.errors import HarnessUsageError
from harness.acceptance.out_of_core import OutOfCorePlan, OutOfCoreRun, measure_frontiers, measure_gathers, out_of_core_evidence
from harness.acceptance.performance import QUICK_TIMING, TimingSettings, measure_performance, performance_criterion
from harness.workloads.injected_backends import Scenario, instrumented_reference, register_scenarios
from harness.probes.tempfiles import scratch_dir
from harness.verdicts import Verdict, worst
from harness.workloads.catalog import GATED_WORKLOADS

CRITERIA = ("C4", "C9")
# What each scenario must do to each criterion: a FAIL rate at least ("power") or at most.
REQUIRED_POWER = {("1.5x", "C4"): 0.95, ("2x-bytes", "C9"): 0.95}
NEVER_FAIL = ("A/A", "1.1x")  # on every criterion
# The criteria each scenario is aimed at (the default: a whole run of every criterion on every
# scenario takes twice as long): the unchanged backend faces both, a slowdown the timed rows,
# the over-reading backend the cold lines.
AIMED_AT = {"A/A": ("C4", "C9"), "1.1x": ("C4",), "1.5x": ("C4",), "2x-bytes": ("C9",)}
TIMING_SIZE = 1024


@dataclass(frozen=True)
class Tally:
    """Verdicts of one criterion in one scenario over all runs."""

    scenario: str
    criterion: str
    passes: int = 0
    warns: int = 0
    fails: int = 0
    details: tuple[str, ...] = ()  # the criterion's details of each run that did not PASS (why)

    @property
    def runs(self) -> int:
        return self.passes + self.warns + self.fails

    @property
    def fail_rate(self) -> float:
        return self.fails / self.runs if self.runs else float("nan")

    def add(self, verdict: Verdict, details: str) -> Tally:
        return dataclasses.replace(
            self, passes=self.passes + (verdict is Verdict.PASS), warns=self.warns + (verdict is Verdict.WARN),
            fails=self.fails + (verdict is Verdict.FAIL),
            details=self.details + ((f"{verdict.value}: {details}",) if verdict is not Verdict.PASS else ()))


@dataclass(frozen=True)
class GateSelftestReport:
    """Every (scenario, criterion) tally, and what they say about the gate."""

    runs: int
    load: int
    scenarios: tuple[Scenario, ...]
    tallies: tuple[Tally, ...]
    duration_s: float

    def tally(self, scenario: str, criterion: str) -> Tally | None:
        return next((t for t in self.tallies if t.scenario == scenario and t.criterion == criterion), None)

    def false_alarm_rate(self, criterion: str) -> float:
        """Share of unchanged-backend (A/A) runs that FAILed ``criterion``."""
        found = self.tally("A/A", criterion)
        return found.fail_rate if found is not None else float("nan")

    def problems(self) -> list[str]:
        found = []
        for t in self.tallies:
            if t.scenario in NEVER_FAIL and t.fails:
                found.append(f"{t.scenario} FAILed {t.criterion} in {t.fails}/{t.runs}")
            need = REQUIRED_POWER.get((t.scenario, t.criterion))
            if need is not None and t.fail_rate < need:
                found.append(f"{t.scenario} FAILed {t.criterion} in only {t.fails}/{t.runs} (needs >= {need:g})")
        return found

    @property
    def acceptable(self) -> bool:
        return not self.problems()


def judge_c4(scratch: Path, backend: str, timing: TimingSettings) -> tuple[Verdict, str]:
    """C4 on every gated workload; the RAM reference wears the scenarios' timing wrapper, so the
    injected spin is the only difference between the sides (injected_backends)."""
    with instrumented_reference():
        run = measure_performance(GATED_WORKLOADS, (TIMING_SIZE,), scratch, timing, file_backend=backend)
    criterion = performance_criterion(run)
    return criterion.verdict, f"{criterion.value:.3g} [{criterion.ci_low}, {criterion.ci_high}] {criterion.details}"


def judge_c9_cold(scratch: Path, backend: str, plan: OutOfCorePlan) -> tuple[Verdict, str]:
    """C9's cold lines (gathers and frontier ticks; the memory probes run in subprocesses and are left out)."""
    plan = dataclasses.replace(plan, backend=backend)
    run: OutOfCoreRun = measure_gathers(scratch, plan)
    measure_frontiers(scratch, plan, run)
    judged = cold_lines(out_of_core_evidence(run, (), plan))
    return worst(v for v, _ in judged), "; ".join(f"{t} {v.value}" for v, t in judged if v is not Verdict.PASS)


def run_gate_selftest(runs: int = 20, *, scenarios: Sequence[str] | None = None, criteria: Sequence[str] = CRITERIA,
                      load: int = 0, timing: TimingSettings = QUICK_TIMING, plan: OutOfCorePlan = OutOfCorePlan(),
                      every_criterion: bool = False, progress: ProgressCallback | None = None) -> GateSelftestReport:
    """Each scenario's backend through the real criteria ``runs`` times, scenarios alternating within a run
    (a burst of load from elsewhere hits them alike), with ``load`` busy processes beside it; each
    scenario faces the criteria it is aimed at (AIMED_AT) among ``criteria``, or all with ``every_criterion``."""
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise HarnessUsageError(f"runs must be an integer >= 1, got {runs!r}")
    unknown = sorted(set(criteria) - set(CRITERIA))
    if unknown or not criteria:
        raise HarnessUsageError(f"the gate self-test judges {', '.join(CRITERIA)}; got {', '.join(criteria) or 'none'}")
    every = register_scenarios()
    names = [s.name for s in every]
    chosen = tuple(s for s in every if scenarios is None or s.name in scenarios)
    if scenarios is not None and (missing := sorted(set(scenarios) - set(names))):
        raise HarnessUsageError(f"unknown scenario(s) {', '.join(missing)}; known: {', '.join(names)}")
    judged = {s.name: tuple(c for c in criteria if every_criterion or c in AIMED_AT[s.name]) for s in chosen}
    tallies = {(s.name, c): Tally(s.name, c) for s in chosen for c in judged[s.name]}
    started = time.perf_counter()
    total, done = runs * len(chosen), 0
    with busy_processes(load), scratch_dir() as scratch:
        for run in range(runs):
            for scenario in chosen:
                for criterion in judged[scenario.name]:
                    if criterion == "C4":
                        verdict, details = judge_c4(scratch, scenario.backend,
                                                    dataclasses.replace(timing, seed=timing.seed + run))
                    else:
                        verdict, details = judge_c9_cold(scratch, scenario.backend, plan)
                    key = (scenario.name, criterion)
                    tallies[key] = tallies[key].add(verdict, details)
                done += 1
                if progress is not None:
                    progress(done, total, f"run {run + 1}/{runs} {scenario.name}")
    return GateSelftestReport(runs, load, chosen, tuple(tallies.values()), time.perf_counter() - started)


def format_gate_report(report: GateSelftestReport) -> list[str]:
    """Plain-text lines: one per (scenario, criterion), then the false-alarm rate and power per criterion."""
    lines = [f"selftest (real gate): {report.runs} runs per scenario, {report.load} busy processes beside it, "
             f"{report.duration_s:.1f} s",
             f"{'scenario':<9} {'criterion':<9} {'PASS':>5} {'WARN':>5} {'FAIL':>5} {'FAIL rate':>10}  backend"]
    backends = {s.name: s.backend for s in report.scenarios}
    for t in report.tallies:
        lines.append(f"{t.scenario:<9} {t.criterion:<9} {t.passes:>5} {t.warns:>5} {t.fails:>5} "
                     f"{t.fail_rate:>10.2f}  {backends[t.scenario]}")
    for criterion in dict.fromkeys(t.criterion for t in report.tallies):
        aa = report.tally("A/A", criterion)
        if aa is not None:
            lines.append(f"{criterion} false-alarm rate (A/A FAIL): {aa.fails}/{aa.runs}")
        for (scenario, judged), need in REQUIRED_POWER.items():
            found = report.tally(scenario, criterion)
            if judged == criterion and found is not None:
                lines.append(f"{criterion} power ({scenario} FAIL): {found.fails}/{found.runs} (needs >= {need:g})")
    for t in report.tallies:
        for why in t.details:  # why each run that did not PASS did not
            lines.append(f"{t.scenario} {t.criterion} {why}")
    problems = report.problems()
    lines.append("gate OK" if not problems else "gate NOT OK: " + "; ".join(problems))
    return lines
