"""Verdicts and how a ratio with an interval is judged: PASS / WARN / FAIL per row, PASS / FAIL / INCONCLUSIVE overall."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

DEFAULT_THRESHOLD = 1.25
COLD_THRESHOLD = 5.0  # informational cold-cache rows WARN above this; they never FAIL or gate


class Verdict(enum.Enum):
    """Verdict of one check; ordered PASS < WARN < FAIL by severity."""

    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"

    @property
    def severity(self) -> int:
        return ("PASS", "WARN", "FAIL").index(self.value)


class Overall(enum.Enum):
    """Verdict of a whole run."""

    PASS = "PASS"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"


@dataclass(frozen=True)
class Criterion:
    """One judged row of the acceptance table, as written to the result JSON."""

    id: str
    name: str
    verdict: Verdict
    value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    threshold: float | None = None
    unit: str = ""
    details: str = ""


@dataclass(frozen=True)
class RatioRow:
    """One memmap/RAM ratio with its interval; non-gating rows (e.g. cold cache) are shown but not judged."""
    workload: str
    ratio: float
    ci_low: float
    ci_high: float
    threshold: float = DEFAULT_THRESHOLD
    size: int | None = None
    cache: str = "warm"
    gating: bool = True

    @property
    def verdict(self) -> Verdict:
        return judge_ratio(self.ci_low, self.ci_high, self.threshold)


def unmeasurable(value: float | None) -> bool:
    """None or NaN: a number that was not measured."""
    return value is None or value != value  # NaN is the only value unequal to itself


def judge_ratio(ci_low: float | None, ci_high: float | None, threshold: float) -> Verdict:
    """PASS if the interval lies within the threshold, FAIL if it lies above it, else WARN."""
    if unmeasurable(ci_low) or unmeasurable(ci_high) or unmeasurable(threshold):
        return Verdict.WARN  # cannot measure: never PASS
    if ci_high <= threshold:
        return Verdict.PASS
    if ci_low > threshold:
        return Verdict.FAIL
    return Verdict.WARN


def worst(verdicts: Iterable[Verdict]) -> Verdict:
    """Most severe verdict (PASS for none)."""
    return max(verdicts, key=lambda v: v.severity, default=Verdict.PASS)


def overall(verdicts: Iterable[Verdict]) -> Overall:
    """PASS if all pass, FAIL if any fails, else INCONCLUSIVE (nothing judged is INCONCLUSIVE)."""
    collected = list(verdicts)
    if not collected:
        return Overall.INCONCLUSIVE
    if any(v is Verdict.FAIL for v in collected):
        return Overall.FAIL
    if all(v is Verdict.PASS for v in collected):
        return Overall.PASS
    return Overall.INCONCLUSIVE
