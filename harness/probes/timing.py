"""Paired, interleaved timing of a baseline and a candidate in one process, with a bootstrap ratio interval."""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from harness.errors import HarnessUsageError
from harness.probes.stats import check_confidence, check_int, check_positive_finite, paired_ratio_interval

# A time budget can cut a run short, but never below this many pairs: fewer pairs give an
# interval too wide to mean anything.
MIN_PAIRS_UNDER_BUDGET = 5


@dataclass(frozen=True)
class PairedTiming:
    """One paired result: candidate/baseline ratio (geometric mean of per-pair ratios) and its interval.

    validate and gate time RAM as the baseline and memmap as the candidate; comparisons time a
    reference implementation against the engine; the self-test times A against A or a slowed A.
    """

    workload: str
    ratio: float
    ci_low: float
    ci_high: float
    confidence: float
    blocks: int  # pairs actually run (may be fewer than requested under a time budget)
    iterations_per_block: int
    baseline_block_s: tuple[float, ...]
    candidate_block_s: tuple[float, ...]
    baseline_median_s: float
    candidate_median_s: float
    gc_enabled: bool  # whether the garbage collector was enabled while blocks ran
    warmup_blocks: int
    blocks_requested: int = 0
    baseline_first: tuple[bool, ...] = ()  # per pair: did the baseline block run first?
    interval: str = "bootstrap"  # how ci_low/ci_high were made ("confidence sequence": harness.probes.sequential)


def _check_callable(name: str, fn: object) -> None:
    if not callable(fn):
        raise HarnessUsageError(f"{name} must be callable, got {type(fn).__name__}")


def _time_block_ns(fn: Callable[[], object], iterations: int) -> int:
    start = time.perf_counter_ns()
    for _ in range(iterations):
        fn()
    return time.perf_counter_ns() - start


def calibrate(fn: Callable[[], object], min_block_s: float = 0.010) -> int:
    """Return the number of calls of ``fn`` that makes one timed block last at least ``min_block_s``."""
    _check_callable("fn", fn)
    check_positive_finite("min_block_s", min_block_s)
    target_ns = min_block_s * 1e9
    iterations = 1
    while True:
        elapsed_ns = _time_block_ns(fn, iterations)
        if elapsed_ns >= target_ns:
            return iterations
        # Jump close to the target (with 20 % headroom) but at least double, so the loop
        # ends quickly even for calls too fast for the timer to see.
        estimate = math.ceil(iterations * target_ns * 1.2 / elapsed_ns) if elapsed_ns > 0 else iterations * 10
        iterations = max(iterations * 2, estimate)


def measure_paired(
    baseline: Callable[[], object],
    candidate: Callable[[], object],
    *,
    workload: str = "",
    blocks: int = 30,
    min_block_s: float = 0.010,
    warmup_blocks: int = 3,
    seed: int | None = 0,
    confidence: float = 0.95,
    disable_gc: bool = True,
    n_resamples: int = 2000,
    time_budget_s: float | None = None,
    until: Callable[[tuple[float, ...], tuple[float, ...]], bool] | None = None,
    extra_budget_s: float = 0.0,
) -> PairedTiming:
    """Time ``baseline`` and ``candidate`` in interleaved, randomly ordered block pairs; return candidate/baseline.

    With ``until`` (a stopping rule on the block times so far, e.g. harness.probes.sequential.decided),
    a run that is not decided after its ``blocks`` (or its ``time_budget_s``) goes on, one
    pair at a time, until ``until`` says so or ``extra_budget_s`` more seconds have passed.
    The stopping rule must keep its error rate under such looks (a confidence sequence does).
    """
    _check_callable("baseline", baseline)
    _check_callable("candidate", candidate)
    check_int("blocks", blocks, 2)
    check_int("warmup_blocks", warmup_blocks, 0)
    check_int("n_resamples", n_resamples, 1)
    check_positive_finite("min_block_s", min_block_s)
    check_confidence(confidence)
    if time_budget_s is not None:
        check_positive_finite("time_budget_s", time_budget_s)
    if until is not None:
        _check_callable("until", until)
    if isinstance(extra_budget_s, bool) or not isinstance(extra_budget_s, (int, float)) or not extra_budget_s >= 0:
        raise HarnessUsageError(f"extra_budget_s must be a number >= 0, got {extra_budget_s!r}")

    started = time.perf_counter()
    order_rng = np.random.default_rng(seed)
    gc_was_enabled = gc.isenabled()
    baseline_ns: list[int] = []
    candidate_ns: list[int] = []
    baseline_first: list[bool] = []
    try:
        if disable_gc:
            gc.collect()  # start from a clean heap so no collection is owed mid-block
            gc.disable()
        gc_enabled_in_blocks = gc.isenabled()
        # Both sides run the SAME iteration count so block times pair up; taking the
        # larger calibration makes the faster side's block reach min_block_s too.
        iterations = max(calibrate(baseline, min_block_s), calibrate(candidate, min_block_s))
        for _ in range(warmup_blocks):
            _time_block_ns(baseline, iterations)
            _time_block_ns(candidate, iterations)
        min_pairs = min(MIN_PAIRS_UNDER_BUDGET, blocks)

        def one_pair() -> None:
            first_is_baseline = bool(order_rng.random() < 0.5)
            if first_is_baseline:
                baseline_ns.append(_time_block_ns(baseline, iterations))
                candidate_ns.append(_time_block_ns(candidate, iterations))
            else:
                candidate_ns.append(_time_block_ns(candidate, iterations))
                baseline_ns.append(_time_block_ns(baseline, iterations))
            baseline_first.append(first_is_baseline)

        def settled() -> bool:
            return until is not None and until(tuple(ns / 1e9 for ns in baseline_ns),
                                               tuple(ns / 1e9 for ns in candidate_ns))

        for pair in range(blocks):
            if pair >= min_pairs and (
                (time_budget_s is not None and time.perf_counter() - started >= time_budget_s) or settled()
            ):
                break
            one_pair()
        if until is not None:
            extended_from = time.perf_counter()
            while time.perf_counter() - extended_from < extra_budget_s and not settled():
                one_pair()
    finally:
        if gc_was_enabled:
            gc.enable()

    baseline_s = tuple(ns / 1e9 for ns in baseline_ns)
    candidate_s = tuple(ns / 1e9 for ns in candidate_ns)
    ratio, ci_low, ci_high = paired_ratio_interval(
        baseline_s, candidate_s, confidence=confidence, n_resamples=n_resamples, seed=seed
    )
    return PairedTiming(
        workload=workload,
        ratio=ratio,
        ci_low=ci_low,
        ci_high=ci_high,
        confidence=confidence,
        blocks=len(baseline_s),
        iterations_per_block=iterations,
        baseline_block_s=baseline_s,
        candidate_block_s=candidate_s,
        baseline_median_s=float(np.median(baseline_s)),
        candidate_median_s=float(np.median(candidate_s)),
        gc_enabled=gc_enabled_in_blocks,
        warmup_blocks=warmup_blocks,
        blocks_requested=blocks,
        baseline_first=tuple(baseline_first),
    )
