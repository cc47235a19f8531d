"""CSV and JSON of the tidy report frames (measurements, criteria, ratio verdicts)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pandas as pd

from reports.frames import ReportData

REPORT_JSON_SCHEMA = "farm-grids/report/v1"


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain dicts with None for every missing value (JSON has no NaN)."""
    plain = frame.astype(object)
    return plain.where(plain.notna(), None).to_dict("records")


def build_csvs(data: ReportData) -> dict[str, str]:
    """{file name: CSV text} for each tidy frame; empty frames still carry their header."""
    frames = {
        "measurements.csv": data.measurements,
        "criteria.csv": data.criteria,
        "ratio_verdicts.csv": data.ratio_verdicts,
    }
    # repr-exact floats so a CSV round trip gives back the same numbers
    return {name: frame.to_csv(index=False, lineterminator="\n") for name, frame in frames.items()}


def build_json(data: ReportData) -> str:
    """One JSON document holding the overall verdict, run summary and every tidy frame."""
    document = {
        "schema": REPORT_JSON_SCHEMA,
        "overall_verdict": data.overall_verdict,
        "summary": dataclasses.asdict(data.summary) if data.summary is not None else None,
        "sources": list(data.sources),
        "criteria": frame_records(data.criteria),
        "ratio_verdicts": frame_records(data.ratio_verdicts),
        "measurements": frame_records(data.measurements),
    }
    return json.dumps(document, indent=2, allow_nan=False) + "\n"
