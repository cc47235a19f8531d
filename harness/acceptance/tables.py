"""The validation outcome as text cells: the criteria table, the ratio rows and the out-of-core lines (rich or plain)."""

from __future__ import annotations

import math

from harness.acceptance.scope import DEFAULT_BACKEND
from harness.acceptance.validation import ValidationOutcome


def _number(value: object, spec: str = ".3g") -> str:
    return "-" if value is None or (isinstance(value, float) and not math.isfinite(value)) else format(value, spec)


def _interval(low: object, high: object) -> str:
    return "-" if low is None or high is None else f"{_number(low)}-{_number(high)}"


def outcome_tables(outcome: ValidationOutcome) -> tuple[list[list[str]], list[list[str]]]:
    """(criteria rows, ratio rows) as text cells, for the rich or the plain table."""
    criteria = [[c.id, c.verdict.value, _number(c.value), _interval(c.ci_low, c.ci_high), _number(c.threshold),
                 c.unit, c.details] for c in outcome.criteria]
    criteria += [[check, NOT_APPLICABLE, "-", "-", "-", "", reason] for check, reason in outcome.scope.not_applicable.items()]
    ratios = [[str(r["workload"]), str(r["size"]), str(r["cache"]), _number(r["ratio"]),
               _interval(r["ci_low"], r["ci_high"]), _number(r["threshold"]),
               str(r["verdict"]) + ("" if r["cache"] == "warm" else " (info)"), str(r["blocks"])]
              for r in outcome.ratios]
    return criteria, ratios


def outofcore_table(outcome: ValidationOutcome) -> list[list[str]]:
    """C9's measurements as text cells: cold gathers (us/window, read / minimum) and frontier ticks (cold/warm)."""
    rows = []
    for r in outcome.outofcore:
        floor = f"{_number(r.get('floor_ratio'))}x floor ({r.get('floor_reader') or '-'})"
        if r["kind"] == "cold_gather":
            rows.append(["cold gather", r["layout"], str(r["size"]), f"{_number(r['us_per_window'])} us/window",
                         f"read {_number(r['read_ratio'])}x min", f"warm {_number(r['warm_us_per_window'])} us/window",
                         floor])
        else:
            rows.append(["frontier tick", r["layout"], str(r["size"]), f"{_number(r['ratio'])}x warm",
                         _interval(r["ci_low"], r["ci_high"]), "", floor])
    return rows


OUTOFCORE_HEADER = ["C9", "layout", "size", "cold", "", "beside", "beyond warm"]
CRITERIA_HEADER = ["id", "verdict", "value", "95% CI", "limit", "unit", "details"]
NOT_APPLICABLE = "n/a"  # shown, never judged: a skipped check neither passes nor fails the run


def ratio_header(backend: str = DEFAULT_BACKEND) -> list[str]:
    return ["workload", "size", "cache", f"{backend}/RAM", "95% CI", "limit", "verdict", "pairs"]


RATIO_HEADER = ratio_header()


def plain_table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows)]
    widths[-1] = 0  # the last column (details) is not padded
    return ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in [header, *rows]]
