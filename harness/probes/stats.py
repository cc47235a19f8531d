"""Interval statistics: bootstrap intervals of ratios and medians, and the regression fit behind C6."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
from scipy import stats

from harness.errors import HarnessUsageError

CONFIDENCE = 0.95
N_RESAMPLES = 2000
# Independent-sample bootstrap resamples are drawn in batches of at most this many values
# (both samples), so that runs with 10^5 rounds per side stay within a few hundred MiB.
RESAMPLE_VALUES_PER_BATCH = 20_000_000


def check_positive_finite(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise HarnessUsageError(f"{name} must be a finite number > 0, got {value!r}")


def check_int(name: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise HarnessUsageError(f"{name} must be an integer >= {minimum}, got {value!r}")


def check_confidence(confidence: float) -> None:
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0.0 < confidence < 1.0:
        raise HarnessUsageError(f"confidence must be in (0, 1), got {confidence!r}")


def _as_positive_array(name: str, values: Sequence[float]) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise HarnessUsageError(f"{name} must be a 1-D sequence of block times, got shape {array.shape}")
    if not np.all(np.isfinite(array)) or np.any(array <= 0):
        raise HarnessUsageError(f"{name} must hold finite block times > 0")
    return array


def paired_ratio_interval(
    baseline_s: Sequence[float],
    candidate_s: Sequence[float],
    *,
    confidence: float = CONFIDENCE,
    n_resamples: int = N_RESAMPLES,
    seed: int | None = 0,
) -> tuple[float, float, float]:
    """Return (ratio, ci_low, ci_high): geometric mean of candidate_i/baseline_i with a bootstrap interval.

    The bootstrap runs on the per-pair log ratios (one sample, BCa); when BCa fails or is
    degenerate (e.g. identical ratios) it falls back to the percentile interval.
    """
    check_confidence(confidence)
    check_int("n_resamples", n_resamples, 1)
    baseline = _as_positive_array("baseline_s", baseline_s)
    candidate = _as_positive_array("candidate_s", candidate_s)
    if baseline.shape != candidate.shape:
        raise HarnessUsageError(
            f"baseline_s and candidate_s must pair up, got {baseline.size} and {candidate.size} blocks")
    if baseline.size < 2:
        raise HarnessUsageError(f"at least 2 block pairs are needed for an interval, got {baseline.size}")
    log_ratios = np.log(candidate) - np.log(baseline)
    point = float(np.exp(log_ratios.mean()))
    if np.ptp(log_ratios) <= 1e-12:  # every pair identical (up to rounding): the interval is the point
        return point, point, point
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            # A degenerate BCa warns and returns NaN; treat the warning as a failure.
            warnings.simplefilter("error", stats.DegenerateDataWarning)
            warnings.simplefilter("error", RuntimeWarning)
            try:
                result = stats.bootstrap((log_ratios,), np.mean, confidence_level=confidence,
                                         n_resamples=n_resamples, method=method, rng=np.random.default_rng(seed))
            except (ValueError, RuntimeWarning, stats.DegenerateDataWarning):
                continue
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
        if math.isfinite(low) and math.isfinite(high):
            return point, math.exp(low), math.exp(high)
    return point, math.nan, math.nan


def _ratio_of_medians(candidate: np.ndarray, baseline: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.median(candidate, axis=axis) / np.median(baseline, axis=axis)


def ratio_of_medians_interval(baseline: Sequence[float], candidate: Sequence[float], *,
                              confidence: float = CONFIDENCE, n_resamples: int = N_RESAMPLES,
                              seed: int = 0) -> tuple[float, float] | None:
    """Percentile-bootstrap interval of median(candidate)/median(baseline), each side resampled on its own.

    For separate runs (not pairs) the samples are independent (scipy ``paired=False``).
    Percentile, not BCa: BCa's jackknife recomputes the median once per value, O(n^2) for the
    10^4-10^5 rounds a pytest-benchmark run can hold. None below 2 values a side.
    """
    baseline_data = np.asarray(baseline, dtype=np.float64)
    candidate_data = np.asarray(candidate, dtype=np.float64)
    if baseline_data.size < 2 or candidate_data.size < 2:
        return None
    batch = max(1, RESAMPLE_VALUES_PER_BATCH // (baseline_data.size + candidate_data.size))
    result = stats.bootstrap((candidate_data, baseline_data), _ratio_of_medians, paired=False, vectorized=True,
                             confidence_level=confidence, n_resamples=n_resamples, batch=batch,
                             method="percentile", rng=np.random.default_rng(seed))
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    return (low, high) if math.isfinite(low) and math.isfinite(high) else None


def median_interval(values: Sequence[float], confidence: float = CONFIDENCE, seed: int = 0) -> tuple[float, float]:
    """Percentile-bootstrap interval of the median of ``values``."""
    data = np.asarray(values, dtype=np.float64)
    if data.size < 2 or np.ptp(data) == 0:  # nothing to resample: the interval is the point
        return (float(np.median(data)),) * 2  # type: ignore[return-value]
    result = stats.bootstrap((data,), np.median, confidence_level=confidence, method="percentile",
                             n_resamples=N_RESAMPLES, rng=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def fit_memory_slope(
    grid_bytes: Sequence[float], anon_bytes: Sequence[float], confidence: float = CONFIDENCE
) -> tuple[float, float, float, tuple[float, float] | None]:
    """Fit anon = slope*grid + intercept -> (slope, intercept, r2, slope t-interval, None below 3 points)."""
    x = np.asarray(grid_bytes, dtype=np.float64)
    y = np.asarray(anon_bytes, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1 or x.size < 2:
        raise HarnessUsageError(f"need >= 2 paired points to fit, got {x.size} grid and {y.size} anon values")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))) or np.ptp(x) == 0:
        raise HarnessUsageError("grid_bytes and anon_bytes must be finite, with at least two grid sizes")
    if np.ptp(y) == 0:  # perfectly flat: an exact fit (linregress would report NaN stderr)
        return 0.0, float(y[0]), 1.0, ((0.0, 0.0) if x.size >= 3 else None)
    fit = stats.linregress(x, y)
    r2 = float(fit.rvalue) ** 2 if math.isfinite(fit.rvalue) else math.nan
    interval = None
    if x.size >= 3:
        half = float(stats.t.ppf(0.5 + confidence / 2, x.size - 2)) * float(fit.stderr)
        interval = (float(fit.slope) - half, float(fit.slope) + half)
    return float(fit.slope), float(fit.intercept), r2, interval
