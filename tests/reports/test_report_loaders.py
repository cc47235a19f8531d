"""Golden tests of the report loaders: fixed harness / asv / pytest-benchmark inputs -> exact frames."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from reports.asv_loader import asv_result_measurements, load_asv_results
from reports.errors import ReportInputError
from reports.frames import (
    CRITERIA_COLUMNS,
    MEASUREMENT_COLUMNS,
    RATIO_VERDICT_COLUMNS,
    backend_ratios,
)
from reports.loaders import (
    detect_kind,
    load_harness_result,
    load_pytest_benchmark,
    load_sources,
    pytest_benchmark_measurements,
)

DATA = Path(__file__).parent / "data"
HARNESS_JSON = DATA / "harness_result.json"
ASV_RESULTS = DATA / "asv_results"
PYTEST_BENCHMARK_JSON = DATA / "pytest_benchmark.json"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
ASV_COMMIT_1 = "1" * 40
ASV_COMMIT_2 = "2" * 40
TIME_BENCH = "bench_windows.BatchedWindows.time_get_windows"
PEAKMEM_BENCH = "bench_windows.BatchedWindows.peakmem_get_windows"


def rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    """Frame rows as plain tuples with None for every missing value, for exact comparison."""
    plain = frame[columns].astype(object)
    return [tuple(r) for r in plain.where(plain.notna(), None).itertuples(index=False)]


def test_every_frame_has_exactly_the_schema_columns_and_dtypes(report_data) -> None:
    for frame, schema in (
        (report_data.measurements, MEASUREMENT_COLUMNS),
        (report_data.criteria, CRITERIA_COLUMNS),
        (report_data.ratio_verdicts, RATIO_VERDICT_COLUMNS),
    ):
        assert list(frame.columns) == list(schema)
        assert {name: str(dtype) for name, dtype in frame.dtypes.items()} == {
            name: ("string" if dtype == "string" else dtype) for name, dtype in schema.items()
        }


def test_harness_criteria_frame_is_exact() -> None:
    criteria = load_harness_result(HARNESS_JSON).criteria
    assert rows(criteria, ["id", "verdict", "value", "ci_low", "ci_high", "threshold", "unit"]) == [
        ("C1", "PASS", None, None, None, None, "bool"),
        ("C2", "PASS", 0.0, None, None, 0.0, ""),
        ("C3", "PASS", None, None, None, None, "bool"),
        ("C4", "FAIL", 1.41, 1.32, 1.5, 1.25, "ratio"),
        ("C5", "PASS", None, None, None, None, "bool"),
        ("C6", "WARN", 0.0012, None, None, 0.01, "bytes"),
        ("C7", "PASS", None, None, None, None, "bool"),
        ("C8", "PASS", None, None, None, None, "bool"),
        ("C9", "PASS", 1.02, None, None, 2.0, "x needed"),
    ]
    assert criteria.loc[3, "name"] == "performance within threshold"
    assert criteria.loc[3, "details"] == "temporal_decay@1024 (cold) ratio 1.41 [1.32, 1.50] > 1.25"


def test_harness_ratio_rows_keep_interval_cache_and_per_backend_medians() -> None:
    measurements = load_harness_result(HARNESS_JSON).measurements
    timing = measurements[measurements["unit"].isin(["ratio", "s"])]
    assert rows(timing, ["workload", "backend", "size", "cache", "statistic", "value", "ci_low", "ci_high", "unit"]) == [
        ("resource_windows", "ratio", 1024, "warm", "ratio", 1.01, 0.98, 1.04, "ratio"),
        ("resource_windows", "ram", 1024, "warm", "median", 0.0123, None, None, "s"),
        ("resource_windows", "memmap", 1024, "warm", "median", 0.0125, None, None, "s"),
        ("batched_windows", "ratio", 1024, "warm", "ratio", 1.2, 1.1, 1.3, "ratio"),
        ("batched_windows", "ram", 1024, "warm", "median", 0.004, None, None, "s"),
        ("batched_windows", "memmap", 1024, "warm", "median", 0.0048, None, None, "s"),
        ("temporal_decay", "ratio", 1024, "cold", "ratio", 1.41, 1.32, 1.5, "ratio"),
        ("temporal_decay", "ram", 1024, "cold", "median", 0.002, None, None, "s"),
        ("temporal_decay", "memmap", 1024, "cold", "median", 0.00282, None, None, "s"),
    ]
    assert set(measurements["source"]) == {"harness"}
    assert set(measurements["commit"]) == {COMMIT}
    assert set(measurements["machine"]) == {"ci-box"}
    assert set(measurements["timestamp"]) == {"2026-11-25T12:00:00+00:00"}


def test_outofcore_records_become_cold_rows_per_kind_and_layout() -> None:
    measurements = load_harness_result(HARNESS_JSON).measurements
    gather = measurements[measurements["workload"] == "cold_gather/tiles32"].set_index("statistic")
    assert gather.loc["us_per_window", "value"] == 14.0 and gather.loc["us_per_window", "unit"] == "us/window"
    assert gather.loc["read_ratio", "value"] == 1.01 and "floor_us_per_window" in gather.index
    assert set(gather["cache"]) == {"cold"} and set(gather["size"]) == {16384}
    rows_gather = measurements[measurements["workload"] == "cold_gather/rows"]
    assert "floor_us_per_window" not in set(rows_gather["statistic"])  # null: left out, not a zero
    frontier = measurements[measurements["workload"] == "frontier/tiles32"]
    assert rows(frontier, ["statistic", "value", "ci_low", "ci_high", "unit"]) == [("ratio", 2.1, 1.9, 2.3, "x warm")]


def test_harness_memory_rows_are_one_per_size_and_statistic() -> None:
    measurements = load_harness_result(HARNESS_JSON).measurements
    memory = measurements[measurements["workload"] == "memory"]
    assert len(memory) == 3 * 9  # the row layout; the tiled probes are memory/tiles32
    tiled = measurements[measurements["workload"] == "memory/tiles32"]
    assert sorted(set(tiled["size"])) == [1024, 4096] and len(tiled) == 2 * 9
    assert set(memory["backend"]) == {"memmap"}
    wide = memory.pivot_table(index="size", columns="statistic", values="value")
    assert wide.loc[4096, "pss_anon_bytes"] == 121_000_000
    assert wide.loc[256, "file_blocks_bytes"] == 65_536
    assert wide.loc[1024, "pages_touched"] == 256
    assert memory.loc[memory["statistic"] == "pages_touched", "unit"].unique().tolist() == ["pages"]
    fit = measurements[measurements["workload"] == "memory_fit"]
    assert rows(fit, ["statistic", "value", "unit", "size"]) == [
        ("slope", 0.0012, "bytes/byte", None),
        ("intercept_bytes", 120_000_000.0, "bytes", None),
        ("r2", 0.1, "", None),
    ]


def test_harness_ratio_verdicts_are_taken_as_written() -> None:
    verdicts = load_harness_result(HARNESS_JSON).ratio_verdicts
    assert rows(verdicts, list(RATIO_VERDICT_COLUMNS)) == [
        ("resource_windows", 1024, "warm", 1.01, 0.98, 1.04, 1.25, "PASS", 30),
        ("batched_windows", 1024, "warm", 1.2, 1.1, 1.3, 1.25, "WARN", 30),
        ("temporal_decay", 1024, "cold", 1.41, 1.32, 1.5, 1.25, "FAIL", 20),
    ]


def test_harness_summary() -> None:
    summary = load_harness_result(HARNESS_JSON).summary
    assert (summary.verdict, summary.mode, summary.threshold, summary.commit, summary.machine) == (
        "FAIL", "quick", 1.25, COMMIT, "ci-box")


def test_pytest_benchmark_frame_reads_params_and_group() -> None:
    frame = load_pytest_benchmark(PYTEST_BENCHMARK_JSON)
    assert len(frame) == 4 * 6
    medians = frame[frame["statistic"] == "median"]
    assert rows(medians, ["source", "workload", "backend", "size", "value", "ci_low", "unit", "commit", "machine"]) == [
        ("pytest-benchmark", "resource_windows", "ram", 64, 1e-06, None, "s", COMMIT, "ci-box"),
        ("pytest-benchmark", "resource_windows", "ram", 128, 2e-06, None, "s", COMMIT, "ci-box"),
        ("pytest-benchmark", "resource_windows", "memmap", 64, 1.1e-06, None, "s", COMMIT, "ci-box"),
        ("pytest-benchmark", "resource_windows", "memmap", 128, 2.6e-06, None, "s", COMMIT, "ci-box"),
    ]
    first = frame[(frame["backend"] == "ram") & (frame["size"] == 64)]
    assert rows(first, ["statistic", "value", "unit"]) == [
        ("min", 9e-07, "s"), ("median", 1e-06, "s"), ("mean", 1.05e-06, "s"),
        ("max", 3e-06, "s"), ("stddev", 1e-07, "s"), ("rounds", 1000.0, "count"),
    ]
    assert set(frame["timestamp"]) == {"2026-11-25T12:05:00.000000+00:00"}


def test_pytest_benchmark_without_params_falls_back_to_param_id_and_test_name() -> None:
    document = {
        "machine_info": {"node": "box"},
        "commit_info": {"id": "abc"},
        "datetime": "2026-01-01T00:00:00",
        "benchmarks": [{"group": None, "name": "test_decay[memmap-2048]", "param": "memmap-2048",
                        "params": None, "stats": {"median": 0.5}}],
    }
    frame = pytest_benchmark_measurements(document)
    assert rows(frame, ["workload", "backend", "size", "statistic", "value"]) == [
        ("test_decay", "memmap", 2048, "median", 0.5)]


def test_asv_frame_has_one_row_per_commit_benchmark_and_param_combination() -> None:
    frame = load_asv_results(ASV_RESULTS)
    assert set(frame["source"]) == {"asv"} and set(frame["machine"]) == {"testbox"}
    first = frame[frame["commit"] == ASV_COMMIT_1]
    assert rows(first, ["workload", "backend", "size", "statistic", "value", "ci_low", "ci_high", "unit"]) == [
        # the null peakmem result (memmap, 128) is a failed combination: no row
        (PEAKMEM_BENCH, "ram", 64, "peakmem", 40_000_000.0, None, None, "bytes"),
        (PEAKMEM_BENCH, "ram", 128, "peakmem", 40_100_000.0, None, None, "bytes"),
        (PEAKMEM_BENCH, "memmap", 64, "peakmem", 40_000_000.0, None, None, "bytes"),
        (TIME_BENCH, "ram", 64, "median", 4e-05, 3.8e-05, 4.2e-05, "s"),
        (TIME_BENCH, "ram", 128, "median", 8e-05, 7.6e-05, 8.4e-05, "s"),
        (TIME_BENCH, "memmap", 64, "median", 4.4e-05, 4.18e-05, 4.62e-05, "s"),
        (TIME_BENCH, "memmap", 128, "median", 9.6e-05, 9.12e-05, 0.0001008, "s"),
        # asv writes ±Infinity for an unknown interval: read as missing, not as a number
        ("bench_windows.time_plain", None, None, "median", 5e-07, None, None, "s"),
    ]
    assert set(first["timestamp"]) == {"2026-11-25T09:46:40+00:00"}
    assert len(frame[frame["commit"] == ASV_COMMIT_2]) == 8


def test_asv_machine_directory_and_project_root_are_accepted(tmp_path: Path) -> None:
    from_machine_dir = load_asv_results(ASV_RESULTS / "testbox")
    assert len(from_machine_dir) == 16
    project = tmp_path / "project" / ".asv"
    project.mkdir(parents=True)
    (project / "results").symlink_to(ASV_RESULTS.resolve(), target_is_directory=True)
    assert len(load_asv_results(tmp_path / "project")) == 16


def test_asv_without_benchmarks_json_guesses_param_names_and_units() -> None:
    document = json.loads((ASV_RESULTS / "testbox" / "11111111-existing-py3.11.json").read_text())
    frame = asv_result_measurements(document, {}, "m")
    time_rows = frame[frame["workload"] == TIME_BENCH]
    assert time_rows["backend"].tolist() == ["ram", "ram", "memmap", "memmap"]
    assert time_rows["size"].tolist() == [64, 128, 64, 128]
    assert set(frame.loc[frame["workload"] == PEAKMEM_BENCH, "statistic"]) == {"peakmem"}


def test_backend_ratios_pair_memmap_with_ram_per_commit(report_data) -> None:
    ratios = backend_ratios(report_data.measurements)
    got = [(r.source, r.commit[:1], r.size, round(r.value, 12)) for r in ratios.itertuples()]
    assert got == [
        ("asv", "1", 64, 1.1), ("asv", "1", 128, 1.2),
        ("asv", "2", 64, 1.05), ("asv", "2", 128, 1.05),
        ("pytest-benchmark", "0", 64, 1.1), ("pytest-benchmark", "0", 128, 1.3),
    ]
    assert set(ratios["backend"]) == {"ratio"} and set(ratios["statistic"]) == {"ratio_of_median"}


def test_load_sources_stacks_every_source(report_data) -> None:
    counts = report_data.measurements["source"].value_counts().to_dict()
    assert counts == {"harness": 74, "asv": 16, "pytest-benchmark": 24}  # + C9: 2x9 tiled memory, 2x2 layout ones, 17 out-of-core
    assert report_data.overall_verdict == "FAIL"


def test_detect_kind() -> None:
    assert detect_kind(HARNESS_JSON) == "harness"
    assert detect_kind(PYTEST_BENCHMARK_JSON) == "pytest-benchmark"
    assert detect_kind(ASV_RESULTS) == "asv"
    assert detect_kind(ASV_RESULTS / "testbox") == "asv"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"hello": 1}', "not a farm-harness result, pytest-benchmark JSON or asv results directory"),
        ('{"schema": "other/v9"}', "unknown schema 'other/v9'"),
        ("[1, 2", "not valid JSON"),
        ('{"schema": "farm-harness/result/v1", "criteria": []}', "no 'verdict' key"),
        ('{"schema": "farm-harness/result/v1", "verdict": "PASS", "criteria": {}}', "criteria must be array"),
        ('{"benchmarks": [1], "machine_info": {}}', r"malformed pytest-benchmark JSON: benchmarks\[0\] must be object"),
    ],
)
def test_bad_json_inputs_raise_naming_the_file(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "input.json"
    path.write_text(content)
    with pytest.raises(ReportInputError, match=message) as raised:
        load_sources([path])
    assert str(path) in str(raised.value)


def test_missing_file_and_empty_asv_directory_raise(tmp_path: Path) -> None:
    with pytest.raises(ReportInputError, match="no such file"):
        load_sources([tmp_path / "absent.json"])
    with pytest.raises(ReportInputError, match="not an asv results directory"):
        load_sources([tmp_path])
    (tmp_path / "benchmarks.json").write_text("{}")
    (tmp_path / "box").mkdir()
    (tmp_path / "box" / "machine.json").write_text('{"machine": "box", "version": 1}')
    with pytest.raises(ReportInputError, match="holds no result files"):
        load_sources([tmp_path])


def test_two_harness_results_are_refused() -> None:
    with pytest.raises(ReportInputError, match="a second harness result"):
        load_sources([HARNESS_JSON, HARNESS_JSON])


def test_json_null_and_nan_become_missing_values() -> None:
    frame = load_harness_result(HARNESS_JSON).criteria
    assert frame["value"].isna().sum() == 5
    assert all(isinstance(v, float) and (math.isnan(v) or math.isfinite(v)) for v in frame["ci_low"])


def test_sizes_given_as_text_or_float_become_integers_and_junk_becomes_missing() -> None:
    document = {"machine_info": {}, "benchmarks": [
        {"group": "g", "params": {"backend": "ram", "size": "512"}, "stats": {"median": 1.0}},
        {"group": "g", "params": {"backend": "ram", "size": 256.0}, "stats": {"median": 1.0}},
        {"group": "g", "params": {"backend": "ram", "size": "large"}, "stats": {"median": 1.0}},
    ]}
    assert pytest_benchmark_measurements(document)["size"].tolist() == [512, 256, pd.NA]
