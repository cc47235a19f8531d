"""The timing rule's self-test on a synthetic summing loop: A/A and 1.1x / 1.5x of it, the false-alarm rate and the power."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from harness.errors import HarnessUsageError
from harness.probes.timing import measure_paired
from harness.progress import ProgressCallback
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
