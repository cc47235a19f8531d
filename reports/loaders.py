"""Loaders: harness result JSON and pytest-benchmark JSON to tidy frames; input-kind detection."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd

from harness.errors import InputFileError
from harness.results.jsonfiles import parse_json
from harness.results.pytest_benchmark import backend_and_size, load_pytest_benchmark_json, workload_of
from harness.results.document import BACKENDS, SCHEMA, load_result
from reports.asv_loader import find_asv_results_root, load_asv_results
from reports.errors import ReportInputError
from reports.frames import (
    HarnessSummary,
    ReportData,
    concat_measurements,
    criteria_frame,
    measurements_frame,
    ratio_verdicts_frame,
)

MEMORY_STATISTICS: dict[str, str] = {
    "grid_bytes": "bytes",
    "pss_anon_bytes": "bytes",
    "rss_anon_bytes": "bytes",
    "rss_file_bytes": "bytes",
    "file_bytes": "bytes",
    "file_blocks_bytes": "bytes",
    "pages_touched": "pages",
    "needed_bytes": "bytes",
    "resident_file_bytes": "bytes",
}
# C9's out-of-core records: statistic -> unit, per kind (harness.probes.cold_gather, harness.probes.cold_frontier).
OUTOFCORE_STATISTICS: dict[str, dict[str, str]] = {
    "cold_gather": {"us_per_window": "us/window", "warm_us_per_window": "us/window", "read_ratio": "x min",
                    "read_bytes": "bytes", "needed_bytes": "bytes", "resident_median_bytes": "bytes",
                    "floor_us_per_window": "us/window", "file_bytes": "bytes"},
    "frontier": {"ratio": "x warm"},
}
MEMORY_FIT_STATISTICS: dict[str, str] = {"slope": "bytes/byte", "intercept_bytes": "bytes", "r2": ""}
PYTEST_BENCHMARK_STATISTICS = ("min", "median", "mean", "max", "stddev", "rounds")


def read_json(path: Path) -> Any:
    """Parse a JSON file (NaN allowed: asv writes it), every failure one ReportInputError naming the file."""
    try:
        return parse_json(path, error=ReportInputError)
    except FileNotFoundError:
        raise ReportInputError(f"{path}: no such file") from None


def detect_kind(path: Path) -> str:
    """'harness', 'pytest-benchmark' or 'asv' for a report input; ReportInputError otherwise."""
    path = Path(path)
    if path.is_dir():
        find_asv_results_root(path)  # raises, naming the directory, when it is not asv
        return "asv"
    if not path.exists():
        raise ReportInputError(f"{path}: no such file or directory")
    document = read_json(path)
    return _json_kind(document, path)


def _json_kind(document: Any, path: Path) -> str:
    if isinstance(document, dict) and "schema" in document:
        if document["schema"] != SCHEMA:
            raise ReportInputError(f"{path}: unknown schema {document['schema']!r} (expected {SCHEMA!r})")
        return "harness"
    if isinstance(document, dict) and "benchmarks" in document and "machine_info" in document:
        return "pytest-benchmark"
    raise ReportInputError(
        f"{path}: not a farm-harness result, pytest-benchmark JSON or asv results directory"
    )


# ---------------------------------------------------------------- harness result JSON


def _require(document: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in document:
        raise ReportInputError(f"{path}: harness result has no {key!r} key")
    return document[key]


def harness_summary(document: Mapping[str, Any], path: str = "<harness>") -> HarnessSummary:
    """The run-level facts of a parsed harness result."""
    machine = document.get("machine") or {}
    return HarnessSummary(
        source_path=path,
        verdict=str(_require(document, "verdict", path)),
        mode=str(document.get("mode") or ""),
        threshold=document.get("threshold"),
        created=document.get("created"),
        duration_s=document.get("duration_s"),
        commit=document.get("git_commit"),
        machine=machine.get("hostname"),
        backend=str(document.get("backend") or "memmap"),
        not_applicable=tuple((str(k), str(v)) for k, v in (document.get("not_applicable") or {}).items()),
    )


def harness_criteria(document: Mapping[str, Any], path: str = "<harness>") -> pd.DataFrame:
    """One row per criterion of a parsed harness result (CRITERIA_COLUMNS)."""
    criteria = _require(document, "criteria", path)
    if not isinstance(criteria, list):
        raise ReportInputError(f"{path}: 'criteria' must be a list")
    return criteria_frame(criteria)


def harness_ratio_verdicts(document: Mapping[str, Any]) -> pd.DataFrame:
    """One row per memmap/RAM ratio with the harness's own threshold and verdict."""
    return ratio_verdicts_frame(document.get("ratios") or [])


def harness_measurements(document: Mapping[str, Any]) -> pd.DataFrame:
    """Tidy rows of a parsed harness result: ratios, per-backend medians, memory, memory fit."""
    context = {
        "source": "harness",
        "commit": document.get("git_commit"),
        "machine": (document.get("machine") or {}).get("hostname"),
        "timestamp": document.get("created"),
    }
    rows: list[dict[str, Any]] = []
    for ratio in document.get("ratios") or []:
        where = {**context, "workload": ratio.get("workload"), "size": ratio.get("size"), "cache": ratio.get("cache")}
        rows.append({**where, "backend": "ratio", "statistic": "ratio", "value": ratio.get("ratio"),
                     "ci_low": ratio.get("ci_low"), "ci_high": ratio.get("ci_high"), "unit": "ratio"})
        for backend in BACKENDS:
            rows.append({**where, "backend": backend, "statistic": "median",
                         "value": ratio.get(f"{backend}_median_s"), "unit": "s"})
    for memory in document.get("memory") or []:
        workload = memory_workload(memory.get("layout"))
        for statistic, unit in MEMORY_STATISTICS.items():
            if statistic in memory:
                # The memory probe measures the memmap path: that is what must stay flat.
                rows.append({**context, "workload": workload, "backend": "memmap", "size": memory.get("size"),
                             "statistic": statistic, "value": memory[statistic], "unit": unit})
    rows += outofcore_rows(document.get("outofcore") or [], context)
    fit = document.get("memory_fit")
    if fit:
        for statistic, unit in MEMORY_FIT_STATISTICS.items():
            if statistic in fit:
                rows.append({**context, "workload": "memory_fit", "backend": "memmap",
                             "statistic": statistic, "value": fit[statistic], "unit": unit})
    return measurements_frame(rows)


def memory_workload(layout: object) -> str:
    """``memory`` for the row layout (the default, and C6's), ``memory/<layout>`` for the others."""
    return "memory" if layout in (None, "rows") else f"memory/{layout}"


def outofcore_rows(records: Iterable[Mapping[str, Any]], context: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Tidy rows of C9's cold gathers and frontier ticks: workload ``<kind>/<layout>``, cache cold."""
    rows = []
    for record in records:
        kind = str(record.get("kind"))
        where = {**context, "workload": f"{kind}/{record.get('layout')}", "backend": "memmap",
                 "size": record.get("size"), "cache": "cold"}
        for statistic, unit in OUTOFCORE_STATISTICS.get(kind, {}).items():
            if record.get(statistic) is not None:
                interval = ({"ci_low": record.get("ci_low"), "ci_high": record.get("ci_high")}
                            if statistic == "ratio" else {})
                rows.append({**where, "statistic": statistic, "value": record[statistic], "unit": unit, **interval})
    return rows


def load_harness_result(path: Path) -> ReportData:
    """Read a harness result JSON (checked by harness.results.document.load_result) into ReportData."""
    try:
        document = load_result(path)
    except FileNotFoundError:
        raise ReportInputError(f"{path}: no such file") from None
    return ReportData(
        measurements=harness_measurements(document),
        criteria=harness_criteria(document, str(path)),
        ratio_verdicts=harness_ratio_verdicts(document),
        summary=harness_summary(document, str(path)),
        sources=(str(path),),
    )


# ---------------------------------------------------------------- pytest-benchmark JSON


def pytest_benchmark_measurements(document: Mapping[str, Any]) -> pd.DataFrame:
    """Tidy rows of a parsed pytest-benchmark JSON: one row per benchmark and statistic."""
    commit = (document.get("commit_info") or {}).get("id")
    machine = (document.get("machine_info") or {}).get("node")
    rows: list[dict[str, Any]] = []
    for benchmark in document.get("benchmarks") or []:
        backend, size = backend_and_size(benchmark)
        workload = workload_of(benchmark)
        stats = benchmark.get("stats") or {}
        for statistic in PYTEST_BENCHMARK_STATISTICS:
            if statistic in stats:
                rows.append({
                    "source": "pytest-benchmark", "workload": workload, "backend": backend, "size": size,
                    "statistic": statistic, "value": stats[statistic],
                    "unit": "count" if statistic == "rounds" else "s",
                    "commit": commit, "machine": machine, "timestamp": document.get("datetime"),
                })
    return measurements_frame(rows)


def load_pytest_benchmark(path: Path) -> pd.DataFrame:
    """Read a `pytest --benchmark-json` file (checked against its schema) into the tidy measurement frame."""
    try:
        document = load_pytest_benchmark_json(path, error=ReportInputError)
    except FileNotFoundError:
        raise ReportInputError(f"{path}: no such file") from None
    return pytest_benchmark_measurements(document)


# ---------------------------------------------------------------- any mix of inputs


def load_sources(paths: Iterable[Path]) -> ReportData:
    """Detect and load every input; at most one harness result (one report judges one run)."""
    paths = [Path(path) for path in paths]
    if not paths:
        raise ReportInputError("no input given (pass --from PATH at least once)")
    harness: ReportData | None = None
    frames: list[pd.DataFrame] = []
    for path in paths:
        kind = detect_kind(path)
        if kind == "harness" and harness is not None:
            raise ReportInputError(
                f"{path}: a second harness result (already have {harness.sources[0]}); give one per report"
            )
        try:
            if kind == "harness":
                harness = load_harness_result(path)
                frames.append(harness.measurements)
            elif kind == "pytest-benchmark":
                frames.append(load_pytest_benchmark(path))
            else:
                frames.append(load_asv_results(path))
        except ReportInputError:
            raise
        except InputFileError as error:  # the harness's own loaders found it off their schema
            raise ReportInputError(str(error)) from None
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            # A file of the right kind whose fields have the wrong shape: still bad input.
            raise ReportInputError(f"{path}: malformed {kind} input ({type(error).__name__}: {error})") from error
    return ReportData(
        measurements=concat_measurements(frames),
        criteria=harness.criteria if harness else criteria_frame([]),
        ratio_verdicts=harness.ratio_verdicts if harness else ratio_verdicts_frame([]),
        summary=harness.summary if harness else None,
        sources=tuple(str(path) for path in paths),
    )


__all__ = [
    "detect_kind",
    "harness_criteria",
    "harness_measurements",
    "harness_ratio_verdicts",
    "harness_summary",
    "load_asv_results",
    "load_harness_result",
    "load_pytest_benchmark",
    "load_sources",
    "measurements_frame",
    "pytest_benchmark_measurements",
    "read_json",
]
