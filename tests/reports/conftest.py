"""Shared fixtures for the reports tests: the golden inputs loaded as one ReportData."""

from __future__ import annotations

from pathlib import Path

import pytest

from reports.frames import ReportData
from reports.loaders import load_sources

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def golden_sources() -> list[Path]:
    """The harness result, asv results directory and pytest-benchmark JSON, in that order."""
    return [DATA / "harness_result.json", DATA / "asv_results", DATA / "pytest_benchmark.json"]


@pytest.fixture(scope="session")
def report_data(golden_sources: list[Path]) -> ReportData:
    """The three golden inputs loaded together, as `farm-harness report` would."""
    return load_sources(golden_sources)
