"""Paired, interleaved RAM-vs-memmap timing in one process with a bootstrap ratio interval."""

from __future__ import annotations

import gc
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from harness.errors import HarnessUsageError

# A time budget can cut a run short, but never below this many pairs: fewer pairs give an
# interval too wide to mean anything.
MIN_PAIRS_UNDER_BUDGET = 5


@dataclass(frozen=True)
class PairedTiming:
    """One workload's paired result: memmap/RAM ratio (geometric mean of per-pair ratios) and its interval."""

    workload: str
    ratio: float
    ci_low: float
    ci_high: float
    confidence: float
    blocks: int  # pairs actually run (may be fewer than requested under a time budget)
    iterations_per_block: int
    ram_block_s: tuple[float, ...]
    memmap_block_s: tuple[float, ...]
    ram_median_s: float
    memmap_median_s: float
    gc_enabled: bool  # whether the garbage collector was enabled while blocks ran
    warmup_blocks: int
    blocks_requested: int = 0
    ram_first: tuple[bool, ...] = ()  # per pair: did the RAM block run first?


def _check_callable(name: str, fn: object) -> None:
    if not callable(fn):
        raise HarnessUsageError(f"{name} must be callable, got {type(fn).__name__}")


def _check_positive_finite(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise HarnessUsageError(f"{name} must be a finite number > 0, got {value!r}")


def _check_int(name: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise HarnessUsageError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_confidence(confidence: float) -> None:
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0.0 < confidence < 1.0:
        raise HarnessUsageError(f"confidence must be in (0, 1), got {confidence!r}")


def _time_block_ns(fn: Callable[[], object], iterations: int) -> int:
    start = time.perf_counter_ns()
    for _ in range(iterations):
        fn()
    return time.perf_counter_ns() - start


def calibrate(fn: Callable[[], object], min_block_s: float = 0.010) -> int:
    """Return the number of calls of ``fn`` that makes one timed block last at least ``min_block_s``."""
    _check_callable("fn", fn)
    _check_positive_finite("min_block_s", min_block_s)
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


def _as_positive_array(name: str, values: Sequence[float]) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise HarnessUsageError(f"{name} must be a 1-D sequence of block times, got shape {array.shape}")
    if not np.all(np.isfinite(array)) or np.any(array <= 0):
        raise HarnessUsageError(f"{name} must hold finite block times > 0")
    return array


def paired_ratio_interval(
    ram_s: Sequence[float],
    memmap_s: Sequence[float],
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int | None = 0,
) -> tuple[float, float, float]:
    """Return (ratio, ci_low, ci_high): geometric mean of memmap_i/ram_i with a bootstrap interval.

    The bootstrap runs on the per-pair log ratios (one sample, BCa); when BCa fails or is
    degenerate (e.g. identical ratios) it falls back to the percentile interval.
    """
    _check_confidence(confidence)
    _check_int("n_resamples", n_resamples, 1)
    ram = _as_positive_array("ram_s", ram_s)
    memmap = _as_positive_array("memmap_s", memmap_s)
    if ram.shape != memmap.shape:
        raise HarnessUsageError(f"ram_s and memmap_s must pair up, got {ram.size} and {memmap.size} blocks")
    if ram.size < 2:
        raise HarnessUsageError(f"at least 2 block pairs are needed for an interval, got {ram.size}")
    log_ratios = np.log(memmap) - np.log(ram)
    point = float(np.exp(log_ratios.mean()))
    if np.ptp(log_ratios) <= 1e-12:  # every pair identical (up to rounding): the interval is the point
        return point, point, point
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            # A degenerate BCa warns and returns NaN; treat the warning as a failure.
            warnings.simplefilter("error", stats.DegenerateDataWarning)
            warnings.simplefilter("error", RuntimeWarning)
            try:
                result = stats.bootstrap(
                    (log_ratios,),
                    np.mean,
                    confidence_level=confidence,
                    n_resamples=n_resamples,
                    method=method,
                    rng=np.random.default_rng(seed),
                )
            except (ValueError, RuntimeWarning, stats.DegenerateDataWarning):
                continue
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
        if math.isfinite(low) and math.isfinite(high):
            return point, math.exp(low), math.exp(high)
    return point, math.nan, math.nan


def measure_paired(
    ram: Callable[[], object],
    memmap: Callable[[], object],
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
) -> PairedTiming:
    """Time ``ram`` and ``memmap`` in interleaved, randomly ordered block pairs and return their ratio."""
    _check_callable("ram", ram)
    _check_callable("memmap", memmap)
    _check_int("blocks", blocks, 2)
    _check_int("warmup_blocks", warmup_blocks, 0)
    _check_int("n_resamples", n_resamples, 1)
    _check_positive_finite("min_block_s", min_block_s)
    _check_confidence(confidence)
    if time_budget_s is not None:
        _check_positive_finite("time_budget_s", time_budget_s)

    started = time.perf_counter()
    order_rng = np.random.default_rng(seed)
    gc_was_enabled = gc.isenabled()
    ram_ns: list[int] = []
    memmap_ns: list[int] = []
    ram_first: list[bool] = []
    try:
        if disable_gc:
            gc.collect()  # start from a clean heap so no collection is owed mid-block
            gc.disable()
        gc_enabled_in_blocks = gc.isenabled()
        # Both backends run the SAME iteration count so block times pair up; taking the
        # larger calibration makes the faster backend's block reach min_block_s too.
        iterations = max(calibrate(ram, min_block_s), calibrate(memmap, min_block_s))
        for _ in range(warmup_blocks):
            _time_block_ns(ram, iterations)
            _time_block_ns(memmap, iterations)
        min_pairs = min(MIN_PAIRS_UNDER_BUDGET, blocks)
        for pair in range(blocks):
            if (
                time_budget_s is not None
                and pair >= min_pairs
                and time.perf_counter() - started >= time_budget_s
            ):
                break
            first_is_ram = bool(order_rng.random() < 0.5)
            if first_is_ram:
                ram_ns.append(_time_block_ns(ram, iterations))
                memmap_ns.append(_time_block_ns(memmap, iterations))
            else:
                memmap_ns.append(_time_block_ns(memmap, iterations))
                ram_ns.append(_time_block_ns(ram, iterations))
            ram_first.append(first_is_ram)
    finally:
        if gc_was_enabled:
            gc.enable()

    ram_s = tuple(ns / 1e9 for ns in ram_ns)
    memmap_s = tuple(ns / 1e9 for ns in memmap_ns)
    ratio, ci_low, ci_high = paired_ratio_interval(
        ram_s, memmap_s, confidence=confidence, n_resamples=n_resamples, seed=seed
    )
    return PairedTiming(
        workload=workload,
        ratio=ratio,
        ci_low=ci_low,
        ci_high=ci_high,
        confidence=confidence,
        blocks=len(ram_s),
        iterations_per_block=iterations,
        ram_block_s=ram_s,
        memmap_block_s=memmap_s,
        ram_median_s=float(np.median(ram_s)),
        memmap_median_s=float(np.median(memmap_s)),
        gc_enabled=gc_enabled_in_blocks,
        warmup_blocks=warmup_blocks,
        blocks_requested=blocks,
        ram_first=tuple(ram_first),
    )
