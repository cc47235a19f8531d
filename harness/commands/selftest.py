"""`farm-harness selftest`: the real gate against faulty backends (harness.acceptance.gate_selftest), or with --synthetic the timing rule alone on a summing loop."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from harness.probes.background_load import busy_processes
from harness.commands.commandline import (
    EXIT_FAIL,
    EXIT_PASS,
    add_threshold,
    int_at_least,
    names_of,
    output_file,
    positive_int,
)
from harness.progress import ProgressCallback, progress_display
from harness.errors import HarnessUsageError
from harness.acceptance.gate_selftest import CRITERIA, format_gate_report, run_gate_selftest
from harness.workloads.injected_backends import SCENARIO_NAMES
from harness.results.jsonfiles import write_json_atomic
from harness.probes.timing import measure_paired
from harness.verdicts import DEFAULT_THRESHOLD, Verdict, judge_ratio

# (label, work factor of the candidate side). The A/A scenario runs one function on both sides.
DEFAULT_SCENARIOS: tuple[tuple[str, float], ...] = (("A/A", 1.0), ("1.1x", 1.1), ("1.5x", 1.5))
# The workload sums one cache-resident chunk BASE_CHUNKS times; the slow side sums it
# round(BASE_CHUNKS * factor) times, so its work is exactly that factor (no cache-size effects).
CHUNK_ELEMENTS = 16_384
BASE_CHUNKS = 20
MAX_FALSE_ALARM_RATE = 0.0
MIN_POWER = 0.95


@dataclass(frozen=True)
class ScenarioResult:
    """Verdict counts of one scenario over all runs."""

    name: str
    work_factor: float
    runs: int
    passes: int
    warns: int
    fails: int
    ratios: tuple[float, ...]

    @property
    def fail_rate(self) -> float:
        return self.fails / self.runs if self.runs else float("nan")

    @property
    def median_ratio(self) -> float:
        return float(np.median(self.ratios)) if self.ratios else float("nan")


@dataclass(frozen=True)
class SelftestReport:
    """Outcome of the self-test: per-scenario counts plus the gate's false-alarm rate and power."""

    threshold: float
    runs: int
    blocks: int
    min_block_s: float
    scenarios: tuple[ScenarioResult, ...]
    duration_s: float

    def scenario(self, name: str) -> ScenarioResult:
        for result in self.scenarios:
            if result.name == name:
                return result
        raise KeyError(name)

    @property
    def false_alarm_rate(self) -> float:
        """Share of A/A runs (no real difference) that the gate called FAIL."""
        return self.scenario("A/A").fail_rate

    @property
    def power(self) -> float:
        """Share of injected 1.5x runs that the gate called FAIL."""
        return self.scenario("1.5x").fail_rate

    @property
    def acceptable(self) -> bool:
        return self.false_alarm_rate <= MAX_FALSE_ALARM_RATE and self.power >= MIN_POWER


def _summing_workload(chunk: np.ndarray, repeats: int) -> Callable[[], object]:
    def workload() -> float:
        total = 0.0
        for _ in range(repeats):
            total += float(chunk.sum())
        return total

    return workload


def run_selftest(
    runs: int = 20,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    blocks: int = 12,
    min_block_s: float = 0.010,
    warmup_blocks: int = 2,
    seed: int = 0,
    scenarios: tuple[tuple[str, float], ...] = DEFAULT_SCENARIOS,
    progress: ProgressCallback | None = None,
) -> SelftestReport:
    """Judge each scenario ``runs`` times with measure_paired + judge_ratio and count the verdicts."""
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise HarnessUsageError(f"runs must be an integer >= 1, got {runs!r}")
    names = [name for name, _ in scenarios]
    if "A/A" not in names or "1.5x" not in names:
        raise HarnessUsageError(f"scenarios must include 'A/A' and '1.5x', got {names}")
    started = time.perf_counter()
    chunk = np.random.default_rng(seed).random(CHUNK_ELEMENTS, dtype=np.float32)
    baseline = _summing_workload(chunk, BASE_CHUNKS)
    slower = {factor: _summing_workload(chunk, round(BASE_CHUNKS * factor)) for _, factor in scenarios}
    counts = {name: {Verdict.PASS: 0, Verdict.WARN: 0, Verdict.FAIL: 0} for name in names}
    ratios: dict[str, list[float]] = {name: [] for name in names}
    total, done = runs * len(scenarios), 0
    # Scenarios alternate within each run so that a burst of load from elsewhere on the
    # machine hits all of them alike instead of biasing one scenario.
    for run in range(runs):
        for name, factor in scenarios:
            candidate = baseline if name == "A/A" else slower[factor]
            timing = measure_paired(
                baseline, candidate, workload=name, blocks=blocks, min_block_s=min_block_s,
                warmup_blocks=warmup_blocks, seed=seed + run,
            )
            counts[name][judge_ratio(timing.ci_low, timing.ci_high, threshold)] += 1
            ratios[name].append(timing.ratio)
            done += 1
            if progress is not None:
                progress(done, total, f"run {run + 1}/{runs} {name}")
    results = tuple(
        ScenarioResult(
            name=name, work_factor=factor, runs=runs, passes=counts[name][Verdict.PASS],
            warns=counts[name][Verdict.WARN], fails=counts[name][Verdict.FAIL], ratios=tuple(ratios[name]),
        )
        for name, factor in scenarios
    )
    return SelftestReport(
        threshold=threshold, runs=runs, blocks=blocks, min_block_s=min_block_s, scenarios=results,
        duration_s=time.perf_counter() - started,
    )


def format_report(report: SelftestReport) -> list[str]:
    """Plain-text lines: one per scenario, then the false-alarm rate and the power."""
    lines = [
        f"selftest: {report.runs} runs per scenario, threshold {report.threshold:g}, "
        f"{report.blocks} pairs of >= {report.min_block_s * 1e3:g} ms blocks, {report.duration_s:.1f} s",
        f"{'scenario':<9} {'work':>5} {'PASS':>5} {'WARN':>5} {'FAIL':>5} {'FAIL rate':>10} {'median ratio':>13}",
    ]
    for s in report.scenarios:
        lines.append(
            f"{s.name:<9} {s.work_factor:>5.2f} {s.passes:>5} {s.warns:>5} {s.fails:>5} "
            f"{s.fail_rate:>10.2f} {s.median_ratio:>13.3f}"
        )
    aa, slow = report.scenario("A/A"), report.scenario("1.5x")
    lines.append(f"false-alarm rate (A/A FAIL): {aa.fails}/{aa.runs} = {report.false_alarm_rate:.2f}")
    lines.append(f"power (1.5x FAIL): {slow.fails}/{slow.runs} = {report.power:.2f}")
    lines.append(f"gate {'OK' if report.acceptable else 'NOT OK'}: needs A/A FAIL rate <= {MAX_FALSE_ALARM_RATE:g} "
                 f"and power >= {MIN_POWER:g}")
    return lines


def prepare_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=positive_int, default=20, help="runs per scenario (default 20)")
    parser.add_argument("--synthetic", action="store_true",
                        help="time a synthetic summing loop against itself and 1.1x / 1.5x of it, instead of the real gate")
    parser.add_argument("--load", type=int_at_least(0), default=0,
                        help="busy processes to run beside the self-test (stopped at its end)")
    parser.add_argument("--scenarios", type=names_of(SCENARIO_NAMES, "scenario"),
                        help=f"comma-separated, of {', '.join(SCENARIO_NAMES)} (default all)")
    parser.add_argument("--criteria", type=names_of(CRITERIA, "criterion", upper=True),
                        help=f"comma-separated, of {', '.join(CRITERIA)} (default both)")
    parser.add_argument("--every-criterion", action="store_true",
                        help="judge every criterion in every scenario (default: each the ones it is aimed at)")
    parser.add_argument("--blocks", type=int_at_least(2), default=12, help="block pairs per run (--synthetic; default 12)")
    add_threshold(parser, DEFAULT_THRESHOLD, "ratio of the gate under test (--synthetic)")
    parser.add_argument("--json", type=output_file, help="write the self-test report as JSON here")


def _write(document: object, target: object) -> None:
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)  # type: ignore[attr-defined]
        write_json_atomic(document, target)  # type: ignore[arg-type]


def run(args: argparse.Namespace) -> int:
    """0 when the false-alarm rate and the power meet their limits, else 1."""
    if not args.synthetic:
        scenarios = tuple(args.scenarios) if args.scenarios else None
        count = len(scenarios) if scenarios else len(SCENARIO_NAMES)
        with progress_display("selftest", args.runs * count, count) as progress:
            gate = run_gate_selftest(args.runs, scenarios=scenarios, load=args.load, progress=progress,
                                     every_criterion=args.every_criterion,
                                     criteria=tuple(args.criteria) if args.criteria else CRITERIA)
        for line in format_gate_report(gate):
            print(line)
        _write({"report": gate, "problems": gate.problems()}, args.json)
        return EXIT_PASS if gate.acceptable else EXIT_FAIL
    with busy_processes(args.load), progress_display("selftest", args.runs * len(DEFAULT_SCENARIOS),
                                                     len(DEFAULT_SCENARIOS)) as progress:
        report = run_selftest(args.runs, threshold=args.threshold, blocks=args.blocks, progress=progress)
    for line in format_report(report):
        print(line)
    _write({"report": report, "false_alarm_rate": report.false_alarm_rate, "power": report.power}, args.json)
    return EXIT_PASS if report.acceptable else EXIT_FAIL
