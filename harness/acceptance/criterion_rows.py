"""How a check writes its row: the Criterion builders every judge shares (not measured, bool, difference)."""

from __future__ import annotations

import math

from harness.verdicts import Criterion, Verdict

MIB, GIB = 1024**2, 1024**3
CANNOT_MEASURE = "cannot measure"


def finite_or_none(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def row(cid: str, name: str, verdict: Verdict, details: str, **fields: object) -> Criterion:
    return Criterion(id=cid, name=name, verdict=verdict, details=details, **fields)  # type: ignore[arg-type]


def not_measured(cid: str, name: str, why: str = "no evidence (skipped)") -> Criterion:
    return row(cid, name, Verdict.WARN, f"{CANNOT_MEASURE}: {why}")


def bool_row(cid: str, name: str, problems: list[str], ok_details: str) -> Criterion:
    if problems:
        return row(cid, name, Verdict.FAIL, "; ".join(problems), value=0.0, unit="bool")
    return row(cid, name, Verdict.PASS, ok_details, value=1.0, unit="bool")


def diff_row(cid: str, name: str, problems: list[str], diff: float, tolerance: float, ok_details: str) -> Criterion:
    verdict = Verdict.FAIL if problems else Verdict.PASS
    return row(cid, name, verdict, "; ".join(problems) or ok_details, value=float(diff), threshold=float(tolerance))


def raised(cid: str, name: str, exc: BaseException) -> Criterion:
    """The row of a check whose measurement raised: FAIL, naming the exception."""
    return Criterion(id=cid, name=name, verdict=Verdict.FAIL, details=f"raised {type(exc).__name__}: {exc}")
