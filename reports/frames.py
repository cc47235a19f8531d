"""Column schemas of the tidy report frames, the ReportData bundle and pure frame helpers."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import pandas as pd

from harness.results.pytest_benchmark import as_size

# "string" (pd.NA for missing) behaves the same on pandas 2 and 3; "str" turns None into
# the text "None" on pandas 2.
MEASUREMENT_COLUMNS: dict[str, str] = {
    "source": "string",  # "harness" | "asv" | "pytest-benchmark"
    "workload": "string",
    "backend": "string",  # "ram" | "memmap" | "ratio" | <NA>
    "size": "Int64",
    "cache": "string",  # "warm" | "cold" | <NA>; harness ratios only (warm and cold are different questions)
    "statistic": "string",
    "value": "float64",
    "ci_low": "float64",
    "ci_high": "float64",
    "unit": "string",
    "commit": "string",
    "machine": "string",
    "timestamp": "string",  # ISO 8601, UTC where the source says so
}

CRITERIA_COLUMNS: dict[str, str] = {
    "id": "string",
    "name": "string",
    "verdict": "string",
    "value": "float64",
    "ci_low": "float64",
    "ci_high": "float64",
    "threshold": "float64",
    "unit": "string",
    "details": "string",
}

# The harness judges each memmap/RAM ratio against its own threshold; keep those judgements
# as they were written instead of re-deriving them from the intervals.
RATIO_VERDICT_COLUMNS: dict[str, str] = {
    "workload": "string",
    "size": "Int64",
    "cache": "string",
    "ratio": "float64",
    "ci_low": "float64",
    "ci_high": "float64",
    "threshold": "float64",
    "verdict": "string",
    "blocks": "Int64",
}

VERDICTS = ("PASS", "WARN", "FAIL")
OVERALL_VERDICTS = ("PASS", "INCONCLUSIVE", "FAIL")


@dataclass(frozen=True)
class HarnessSummary:
    """The run-level facts of one harness result (overall verdict, mode, where and when)."""

    source_path: str
    verdict: str
    mode: str
    threshold: float | None
    created: str | None
    duration_s: float | None
    commit: str | None
    machine: str | None
    backend: str = "memmap"  # the file backend measured against RAM
    not_applicable: tuple[tuple[str, str], ...] = ()  # (check, reason) the run skipped for that backend


@dataclass(frozen=True)
class ReportData:
    """Everything a renderer needs: tidy measurements, criteria, ratio verdicts, run summary."""

    measurements: pd.DataFrame
    criteria: pd.DataFrame
    ratio_verdicts: pd.DataFrame
    summary: HarnessSummary | None
    sources: tuple[str, ...]

    @property
    def overall_verdict(self) -> str | None:
        """The harness's overall verdict, or None when no harness result was given."""
        return self.summary.verdict if self.summary is not None else None


def clean_number(value: Any) -> float | None:
    """A finite float, or None for null / NaN / ±inf (asv writes ±Infinity for unknown CIs)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def typed_frame(rows: Iterable[Mapping[str, Any]], columns: Mapping[str, str]) -> pd.DataFrame:
    """A frame with exactly `columns` in order and their dtypes, whatever the rows hold."""
    records = [{name: row.get(name) for name in columns} for row in rows]
    frame = pd.DataFrame.from_records(records, columns=list(columns))
    for name, dtype in columns.items():
        if name in ("size", "blocks"):
            frame[name] = frame[name].map(as_size).astype("object").astype(dtype)
        elif dtype == "float64":
            frame[name] = pd.to_numeric(frame[name].map(clean_number), errors="raise").astype("float64")
        else:
            frame[name] = frame[name].astype("object").where(frame[name].notna(), None).astype(dtype)
    return frame.reset_index(drop=True)


def measurements_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """The tidy measurement frame (MEASUREMENT_COLUMNS) from row dicts."""
    return typed_frame(rows, MEASUREMENT_COLUMNS)


def criteria_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """The criteria frame (CRITERIA_COLUMNS) from row dicts."""
    return typed_frame(rows, CRITERIA_COLUMNS)


def ratio_verdicts_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """The harness ratio-verdict frame (RATIO_VERDICT_COLUMNS) from row dicts."""
    return typed_frame(rows, RATIO_VERDICT_COLUMNS)


def concat_measurements(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Stack measurement frames, keeping the schema even when there are none."""
    present = [frame for frame in frames if not frame.empty]
    if not present:
        return measurements_frame([])
    return measurements_frame(pd.concat(present, ignore_index=True).to_dict("records"))


def backend_ratios(measurements: pd.DataFrame, statistic: str = "median") -> pd.DataFrame:
    """memmap/RAM ratios of `statistic` per (source, workload, size, commit, machine).

    Returns the measurement columns plus `ram` and `memmap` (the two values divided).

    Used for asv and pytest-benchmark, which record each backend separately; the harness
    already reports its own paired ratios with intervals, so its rows are left out.
    """
    keys = ["source", "workload", "size", "commit", "machine"]
    picked = measurements[
        (measurements["statistic"] == statistic)
        & measurements["backend"].isin(["ram", "memmap"])
        & (measurements["source"] != "harness")
    ]
    rows: list[dict[str, Any]] = []
    for key, group in picked.groupby(keys, dropna=False, sort=False):
        by_backend = {row.backend: row for row in group.itertuples()}
        if "ram" not in by_backend or "memmap" not in by_backend:
            continue
        ram, memmap = by_backend["ram"], by_backend["memmap"]
        if pd.isna(ram.value) or pd.isna(memmap.value) or ram.value == 0:
            continue
        row = dict(zip(keys, key))
        row.update(
            backend="ratio",
            cache=None,
            statistic=f"ratio_of_{statistic}",
            value=memmap.value / ram.value,
            ram=ram.value,
            memmap=memmap.value,
            unit="ratio",
            timestamp=memmap.timestamp,
        )
        rows.append({k: (None if is_missing(v) else v) for k, v in row.items()})
    frame = measurements_frame(rows)
    frame["ram"] = pd.Series([row["ram"] for row in rows], dtype="float64")
    frame["memmap"] = pd.Series([row["memmap"] for row in rows], dtype="float64")
    return frame


def is_missing(value: Any) -> bool:
    """True for None / NaN / pd.NA (frames and groupby keys carry missing values as any of them)."""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
