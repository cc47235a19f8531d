"""Behaviour tests of paired, interleaved timing and the bootstrap ratio interval."""

from __future__ import annotations

import gc
import math
import time

import numpy as np
import pytest

from harness.errors import HarnessUsageError
from harness.probes.stats import paired_ratio_interval
from harness.probes.timing import PairedTiming, calibrate, measure_paired

class FakeClock:
    """A perf_counter_ns that only the workloads advance: timing behaviour without the machine.

    Each call of a workload costs ``cost_ns`` times a seeded jitter factor, so the statistics
    see realistic, noisy block times while the test stays deterministic.
    """

    def __init__(self, jitter: float = 0.05, seed: int = 0) -> None:
        self.now = 0
        self.jitter = jitter
        self.rng = np.random.default_rng(seed)

    def perf_counter_ns(self) -> int:
        return self.now

    def workload(self, cost_ns: int):
        def run() -> None:
            self.now += int(cost_ns * (1.0 + self.jitter * self.rng.standard_normal()))

        return run


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(time, "perf_counter_ns", fake.perf_counter_ns)
    return fake


@pytest.fixture
def gc_enabled():
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_twice_the_work_gives_a_ratio_near_two_that_excludes_one(clock) -> None:
    result = measure_paired(clock.workload(100_000), clock.workload(200_000), workload="double", blocks=12,
                            min_block_s=0.005)
    assert isinstance(result, PairedTiming)
    assert result.ratio == pytest.approx(2.0, rel=0.03)
    assert 1.9 < result.ci_low <= result.ratio <= result.ci_high < 2.1
    assert result.iterations_per_block == 60  # 60 and 30 calls reach 5 ms per side; both run the larger
    assert result.workload == "double"
    assert result.blocks == 12 == len(result.baseline_block_s) == len(result.candidate_block_s) == len(result.baseline_first)


def test_a_a_interval_contains_one(clock) -> None:
    same = clock.workload(100_000)
    result = measure_paired(same, same, blocks=12, min_block_s=0.005)
    assert result.ratio == pytest.approx(1.0, rel=0.03)
    assert result.ci_low <= 1.0 <= result.ci_high


def test_a_ten_percent_slowdown_is_resolved_by_the_interval(clock) -> None:
    result = measure_paired(clock.workload(100_000), clock.workload(110_000), blocks=30, min_block_s=0.005)
    assert 1.0 < result.ci_low < 1.1 < result.ci_high < 1.2


def test_records_gc_blocks_iterations_and_randomised_seeded_order(gc_enabled) -> None:
    seen_gc_state = []

    def probe() -> None:
        seen_gc_state.append(gc.isenabled())

    first = measure_paired(probe, probe, blocks=30, min_block_s=0.001, warmup_blocks=1, seed=7)
    second = measure_paired(probe, probe, blocks=30, min_block_s=0.001, warmup_blocks=1, seed=7)
    assert first.gc_enabled is False and not any(seen_gc_state)
    assert gc.isenabled()
    assert first.baseline_first == second.baseline_first
    assert 0 < sum(first.baseline_first) < 30  # both orders occur
    assert first.iterations_per_block >= 1 and first.warmup_blocks == 1 and first.blocks_requested == 30
    kept = measure_paired(probe, probe, blocks=2, min_block_s=0.001, disable_gc=False)
    assert kept.gc_enabled is True


def test_gc_is_restored_after_an_exception_inside_a_block(gc_enabled) -> None:
    calls = 0

    def fails_later() -> None:
        nonlocal calls
        calls += 1
        if calls > 200:
            raise RuntimeError("boom inside a block")

    with pytest.raises(RuntimeError, match="boom"):
        measure_paired(lambda: None, fails_later, blocks=50, min_block_s=0.001)
    assert gc.isenabled()


def test_gc_left_disabled_if_caller_disabled_it() -> None:
    was = gc.isenabled()
    gc.disable()
    try:
        measure_paired(lambda: None, lambda: None, blocks=2, min_block_s=0.0005)
        assert not gc.isenabled()
    finally:
        if was:
            gc.enable()


def test_time_budget_stops_early_but_keeps_at_least_five_pairs() -> None:
    result = measure_paired(lambda: None, lambda: None, blocks=40, min_block_s=0.001, time_budget_s=1e-6)
    assert result.blocks == 5
    assert result.blocks_requested == 40


@pytest.mark.parametrize(
    "kwargs",
    [
        {"blocks": 1},
        {"blocks": 2.5},
        {"confidence": 0.0},
        {"confidence": 1.0},
        {"confidence": math.nan},
        {"min_block_s": 0},
        {"min_block_s": math.inf},
        {"warmup_blocks": -1},
        {"time_budget_s": -1.0},
        {"n_resamples": 0},
    ],
)
def test_bad_arguments_raise_a_typed_value_error(kwargs) -> None:
    with pytest.raises(HarnessUsageError) as info:
        measure_paired(lambda: None, lambda: None, **kwargs)
    assert isinstance(info.value, ValueError)


def test_non_callables_are_rejected() -> None:
    with pytest.raises(HarnessUsageError, match="candidate must be callable"):
        measure_paired(lambda: None, 3)  # type: ignore[arg-type]
    with pytest.raises(HarnessUsageError, match="fn must be callable"):
        calibrate("not a function")  # type: ignore[arg-type]


def test_calibrate_scales_iterations_with_call_cost() -> None:
    assert calibrate(lambda: None, 0.005) >= 100
    assert calibrate(lambda: time.sleep(0.012), 0.010) == 1


def test_interval_of_identical_pairs_is_the_point() -> None:
    ratio, low, high = paired_ratio_interval([1.0, 2.0, 4.0], [2.0, 4.0, 8.0])
    assert ratio == low == high == pytest.approx(2.0)


def test_interval_is_seeded_and_brackets_the_geometric_mean() -> None:
    rng = np.random.default_rng(3)
    baseline = rng.uniform(0.01, 0.02, 25)
    candidate = baseline * 1.3 * np.exp(rng.normal(0, 0.05, 25))
    first = paired_ratio_interval(baseline, candidate, seed=1)
    assert first == paired_ratio_interval(baseline, candidate, seed=1)
    ratio, low, high = first
    assert ratio == pytest.approx(math.exp(np.mean(np.log(candidate / baseline))))
    assert low < ratio < high
    assert 1.2 < low and high < 1.4


@pytest.mark.parametrize(
    ("baseline", "candidate"),
    [([1.0], [1.0]), ([1.0, 2.0], [1.0]), ([1.0, 0.0], [1.0, 1.0]), ([1.0, math.nan], [1.0, 1.0]), ([[1.0]], [[1.0]])],
)
def test_interval_rejects_unpaired_or_invalid_block_times(baseline, candidate) -> None:
    with pytest.raises(HarnessUsageError):
        paired_ratio_interval(baseline, candidate)
