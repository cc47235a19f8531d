"""Reports: tidy pandas frames from harness / asv / pytest-benchmark results, rendered to files."""

from __future__ import annotations

from reports.asv_loader import asv_result_measurements, load_asv_results
from reports.errors import ReportExistsError, ReportInputError
from reports.frames import (
    CRITERIA_COLUMNS,
    MEASUREMENT_COLUMNS,
    RATIO_VERDICT_COLUMNS,
    HarnessSummary,
    ReportData,
    backend_ratios,
)
from reports.loaders import (
    detect_kind,
    harness_criteria,
    harness_measurements,
    load_harness_result,
    load_pytest_benchmark,
    load_sources,
    pytest_benchmark_measurements,
)
from reports.writer import DEFAULT_FORMATS, FORMATS, build_report_files, write_report

__all__ = [
    "CRITERIA_COLUMNS",
    "DEFAULT_FORMATS",
    "FORMATS",
    "MEASUREMENT_COLUMNS",
    "RATIO_VERDICT_COLUMNS",
    "HarnessSummary",
    "ReportData",
    "ReportExistsError",
    "ReportInputError",
    "asv_result_measurements",
    "backend_ratios",
    "build_report_files",
    "detect_kind",
    "harness_criteria",
    "harness_measurements",
    "load_asv_results",
    "load_harness_result",
    "load_pytest_benchmark",
    "load_sources",
    "pytest_benchmark_measurements",
    "write_report",
]
