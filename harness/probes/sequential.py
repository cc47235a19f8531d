"""The sequential rule: an anytime-valid confidence sequence for the median paired ratio, looked at after every pair.

A fixed-size interval looked at again and again, with more pairs each time it straddles the
line, FAILs an unchanged engine far more often than its nominal rate. A confidence sequence
holds at every sample size at once, so a run may stop the moment it is decided (or when its
time budget runs out) without losing its error rate.

Method: a sign-based confidence sequence for the median of the per-pair log ratios (Howard and
Ramdas, "Sequential estimation of quantiles with applications to A/B-testing and best-arm
identification", Bernoulli 28(3), 2022), whose boundary is Robbins' normal mixture for
1/2-sub-Gaussian sums (Howard, Ramdas, McAuliffe and Sekhon, "Time-uniform, nonparametric,
nonasymptotic confidence sequences", Annals of Statistics 49(2), 2021, Proposition 5): with
the line at the true median, the count of pairs above it is a Binomial(n, 1/2) walk, and the
chance it ever crosses the boundary, at any n, is at most alpha. It needs no assumption on the
shape of the block times: a pair hit by a preemption counts once, however long it was.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from harness.errors import HarnessUsageError
from harness.probes.stats import check_int
from harness.probes.timing import PairedTiming, measure_paired
from harness.verdicts import Verdict, judge_ratio

ALPHA = 0.05  # the chance, over all looks, that a ratio exactly at its line is ever called FAIL (or PASS)
TARGET_PAIRS = 16  # the boundary is tightest near here (quick's first batch of pairs)


@dataclass(frozen=True)
class SequenceInterval:
    """Where the confidence sequence stands after ``pairs`` pairs (bounds on the median ratio)."""

    pairs: int
    ratio: float  # median of the per-pair ratios
    low: float  # 0 while the pairs cannot bound it yet
    high: float  # inf while the pairs cannot bound it yet
    alpha: float


def boundary(pairs: int, alpha: float = ALPHA, target_pairs: int = TARGET_PAIRS) -> float:
    """Robbins' normal-mixture half-width on the mean of ``pairs`` standardised values, tightest near ``target_pairs``."""
    two_log = -2.0 * math.log(alpha)
    rho2 = (two_log + math.log(two_log + 1.0)) / target_pairs  # Howard et al. 2021, eq. (3.9)'s tuning
    t = float(pairs)
    return math.sqrt(2.0 * (t * rho2 + 1.0) / (t * t * rho2) * math.log(math.sqrt(t * rho2 + 1.0) / alpha))


def rank_margin(pairs: int, alpha: float = ALPHA, target_pairs: int = TARGET_PAIRS) -> int:
    """j: the median lies between the j-th smallest and the j-th largest log ratio (j < 1: unbounded).

    Pair indicators are 1/2-sub-Gaussian, so the count's margin is pairs * boundary / 2.
    """
    return math.ceil(pairs / 2 - pairs * boundary(pairs, alpha, target_pairs) / 2)


def confidence_sequence(log_ratios: Sequence[float] | np.ndarray, *, alpha: float = ALPHA,
                        target_pairs: int = TARGET_PAIRS) -> SequenceInterval:
    """The sequence's interval for the median ratio after all ``log_ratios`` (log(candidate / baseline) per pair)."""
    values = np.sort(np.asarray(log_ratios, dtype=np.float64))
    check_int("pairs", int(values.size), 1)
    if not 0.0 < alpha < 1.0:
        raise HarnessUsageError(f"alpha must be in (0, 1), got {alpha!r}")
    if not np.all(np.isfinite(values)):
        raise HarnessUsageError("log ratios must be finite")
    j = rank_margin(values.size, alpha, target_pairs)
    low, high = (math.exp(values[j - 1]), math.exp(values[-j])) if j >= 1 else (0.0, math.inf)
    return SequenceInterval(values.size, math.exp(float(np.median(values))), low, high, alpha)


def paired_log_ratios(baseline_s: Sequence[float], candidate_s: Sequence[float]) -> np.ndarray:
    return np.log(np.asarray(candidate_s, dtype=np.float64)) - np.log(np.asarray(baseline_s, dtype=np.float64))


def sequential_verdict(log_ratios: Sequence[float] | np.ndarray, threshold: float, *, alpha: float = ALPHA,
                       target_pairs: int = TARGET_PAIRS) -> Verdict:
    """PASS when the sequence lies within ``threshold``, FAIL above it, WARN (undecided) while it straddles."""
    interval = confidence_sequence(log_ratios, alpha=alpha, target_pairs=target_pairs)
    return judge_ratio(interval.low, interval.high, threshold)


def decided(baseline_s: Sequence[float], candidate_s: Sequence[float], threshold: float) -> bool:
    """True once the pairs so far settle the ratio against ``threshold`` (PASS or FAIL)."""
    if not baseline_s:
        return False
    return sequential_verdict(paired_log_ratios(baseline_s, candidate_s), threshold) is not Verdict.WARN


class SamplingBudget:
    """Seconds of extra pairs a whole run may spend on undecided ratios, shared by its rows in turn."""

    def __init__(self, seconds: float, per_row_s: float) -> None:
        self.left_s = max(0.0, float(seconds))
        self.per_row_s = max(0.0, float(per_row_s))

    def grant(self) -> float:
        """The extra seconds the next undecided row may use (no more than is left)."""
        return min(self.left_s, self.per_row_s)

    def spend(self, seconds: float) -> None:
        self.left_s = max(0.0, self.left_s - seconds)


def measure_until_decided(baseline: Callable[[], object], candidate: Callable[[], object], threshold: float, *,
                          budget: SamplingBudget | None = None, **options: object) -> PairedTiming:
    """measure_paired stopped by the confidence sequence: early once decided, later (within the
    budget's grant) while the interval still straddles ``threshold``; the interval reported is the
    sequence's, so the verdict drawn from it keeps its error rate."""
    extra = budget.grant() if budget is not None else 0.0
    started = time.perf_counter()
    timing = measure_paired(baseline, candidate, until=lambda b, c: decided(b, c, threshold),
                            extra_budget_s=extra, **options)  # type: ignore[arg-type]
    if budget is not None:
        nominal = options.get("time_budget_s")
        overrun = time.perf_counter() - started - (float(nominal) if nominal is not None else 0.0)  # type: ignore[arg-type]
        budget.spend(max(0.0, overrun) if nominal is not None else 0.0)
    interval = confidence_sequence(paired_log_ratios(timing.baseline_block_s, timing.candidate_block_s))
    return dataclasses.replace(timing, ratio=interval.ratio, ci_low=interval.low, ci_high=interval.high,
                               interval="confidence sequence")


def simulate_false_alarms(runs: int, *, max_pairs: int, threshold: float = 1.25, sigma: float = 0.1,
                          heavy_tails: bool = False, seed: int = 0, alpha: float = ALPHA) -> float:
    """Share of simulated runs with the true median ratio at ``threshold`` that the rule FAILs.

    Each run looks after every pair up to ``max_pairs`` and stops at its first decision, as
    the harness does; ``heavy_tails`` draws Student-t noise (1 degree of freedom: Cauchy) in
    place of normal noise, like block times under preemption.
    """
    check_int("runs", runs, 1)
    check_int("max_pairs", max_pairs, 1)
    rng = np.random.default_rng(seed)
    shape = (runs, max_pairs)
    noise = rng.standard_cauchy(shape) if heavy_tails else rng.standard_normal(shape)
    line = math.log(threshold)
    above = np.cumsum(line + sigma * noise > line, axis=1)  # pairs above the line after each look
    n = np.arange(1, max_pairs + 1)
    margins = np.array([rank_margin(k, alpha) for k in range(1, max_pairs + 1)])
    # FAIL: the margin-th smallest is above the line (fewer than margin at or below it); PASS mirrors it.
    fail = (margins >= 1) & (n - above < margins)
    passed = (margins >= 1) & (above < margins)
    first_fail = np.where(fail.any(axis=1), fail.argmax(axis=1), max_pairs)
    first_pass = np.where(passed.any(axis=1), passed.argmax(axis=1), max_pairs)
    return float(np.mean(first_fail < first_pass))
