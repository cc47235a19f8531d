"""`farm-harness gate`: memmap/RAM ratios from pytest-benchmark JSON, exit codes and one-line usage errors."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from harness import cli
from harness.acceptance.benchmark_gate import benchmark_runs, gate_rows, load_document, pair_runs
from harness.results.document import load_result
from harness.probes.stats import ratio_of_medians_interval
from harness.verdicts import Verdict

# Trimmed from a real `pytest tests/benchmarks --benchmark-enable --benchmark-json` run
# (tests/harness/data/trim_pytest_benchmark.py --groups store_windows --max-rounds 60).
FIXTURE = Path(__file__).parents[1] / "data" / "pytest_benchmark_run.json"


def real_run() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))


def entry(document: dict, backend: str) -> dict:
    return next(b for b in document["benchmarks"] if b["params"]["backend"] == backend)


def with_memmap_scaled(factor: float, *, keep_data: bool = True) -> dict:
    """The real run with the memmap entry replaced by the RAM entry's times times ``factor``."""
    document = real_run()
    ram, memmap = entry(document, "ram"), entry(document, "memmap")
    stats = copy.deepcopy(ram["stats"])
    stats["data"] = [t * factor for t in stats["data"]]
    for key in ("min", "max", "mean", "median", "q1", "q3", "total"):
        stats[key] *= factor
    memmap["stats"] = stats
    if not keep_data:
        for bench in document["benchmarks"]:
            bench["stats"].pop("data")
    return document


def write(tmp_path: Path, document: object, name: str = "results.json") -> Path:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")
    return path


def gate(capsys, path: Path, *extra: str) -> tuple[int, str, str]:
    code = cli.main(["gate", "--pytest-benchmark", str(path), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_usage_error(code: int, err: str, fragment: str) -> None:
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("farm-harness gate: error:"), err
    assert fragment in err


def test_the_fixture_is_a_real_pytest_benchmark_run_with_raw_data() -> None:
    document = real_run()
    assert {"machine_info", "commit_info", "benchmarks", "version"} <= set(document)
    for backend in ("ram", "memmap"):
        bench = entry(document, backend)
        assert bench["group"] == "store_windows" and bench["param"] == f"{backend}-256"
        assert len(bench["stats"]["data"]) == bench["stats"]["rounds"] >= 30


def test_memmap_one_and_a_half_times_slower_fails(capsys, tmp_path) -> None:
    code, out, _ = gate(capsys, write(tmp_path, with_memmap_scaled(1.5)))
    assert code == 1
    assert "store_windows" in out and "256" in out and "1.500" in out and "FAIL" in out


def test_equal_times_pass(capsys, tmp_path) -> None:
    code, out, _ = gate(capsys, write(tmp_path, with_memmap_scaled(1.0)))
    assert code == 0
    assert "1.000" in out and "gate: PASS" in out


def test_the_threshold_decides(capsys, tmp_path) -> None:
    code, _, _ = gate(capsys, write(tmp_path, with_memmap_scaled(1.5)), "--threshold", "2.0")
    assert code == 0


def test_the_real_run_is_judged_from_its_own_data(capsys) -> None:
    code, out, _ = gate(capsys, FIXTURE, "--threshold", "100")
    assert code == 0 and "n/a" not in out  # both entries kept their rounds: an interval is printed


def test_without_raw_data_the_pair_is_warn_and_the_gate_inconclusive(capsys, tmp_path) -> None:
    code, out, _ = gate(capsys, write(tmp_path, with_memmap_scaled(3.0, keep_data=False)))
    assert code == 3
    assert "n/a (no raw data)" in out and "WARN" in out and "--benchmark-save-data" in out


def test_json_output_is_a_harness_result(capsys, tmp_path) -> None:
    out_path = tmp_path / "gate.json"
    code, _, _ = gate(capsys, write(tmp_path, with_memmap_scaled(1.5)), "--json", str(out_path))
    result = load_result(out_path)
    assert code == 1 and result["verdict"] == "FAIL"
    assert [c["id"] for c in result["criteria"]] == ["C4"] and result["criteria"][0]["verdict"] == "FAIL"
    (row,) = result["ratios"]
    assert row["workload"] == "store_windows" and row["size"] == 256
    assert row["ratio"] == pytest.approx(1.5) and row["ci_low"] > 1.25
    assert result["git_commit"] == real_run()["commit_info"]["id"]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ([1, 2, 3], "malformed pytest-benchmark JSON: the document must be object"),
        ({"schema": "farm-harness/result/v1", "verdict": "PASS"}, "the document has no 'benchmarks' key"),
        ({"machine_info": {}, "benchmarks": "many"}, "benchmarks must be array"),
    ],
)
def test_malformed_input_is_a_usage_error(capsys, tmp_path, content, fragment) -> None:
    code, _, err = gate(capsys, write(tmp_path, content))
    assert_usage_error(code, err, fragment)


def test_missing_file_is_a_usage_error(capsys, tmp_path) -> None:
    code, _, err = gate(capsys, tmp_path / "absent.json")
    assert_usage_error(code, err, "no such file")


def test_no_ram_memmap_pair_is_a_usage_error(capsys, tmp_path) -> None:
    document = real_run()
    document["benchmarks"] = [entry(document, "ram")]
    code, _, err = gate(capsys, write(tmp_path, document))
    assert_usage_error(code, err, "no ram/memmap pairs")


def test_a_broken_entry_is_a_usage_error_naming_it(capsys, tmp_path) -> None:
    document = real_run()
    entry(document, "memmap")["stats"]["median"] = None
    code, _, err = gate(capsys, write(tmp_path, document))
    assert_usage_error(code, err, "test_store_windows[memmap-256]")


def test_duplicate_runs_are_a_usage_error(capsys, tmp_path) -> None:
    document = real_run()
    twin = copy.deepcopy(entry(document, "ram"))
    twin["fullname"] += "_twin"
    document["benchmarks"].append(twin)
    code, _, err = gate(capsys, write(tmp_path, document))
    assert_usage_error(code, err, "two ram runs for store_windows at size 256")


def test_pairs_are_matched_by_group_size_and_other_params(tmp_path) -> None:
    document = real_run()
    extra = copy.deepcopy(document["benchmarks"])
    for bench in extra:
        bench["params"]["flush_policy"] = "tick"
    document["benchmarks"] += extra
    document["benchmarks"].append({"group": "other", "name": "t[x]", "params": {}, "stats": {"median": 1.0}})
    path = write(tmp_path, document)
    pairs = pair_runs(benchmark_runs(load_document(path), path), path)
    assert sorted(ram.other_params for ram, _ in pairs) == [(), (("flush_policy", "tick"),)]
    rows = gate_rows(pairs, 1.25)
    assert sorted(row.workload for row in rows) == ["store_windows", "store_windows[flush_policy=tick]"]
    assert all(ram.backend == "ram" and memmap.backend == "memmap" for ram, memmap in pairs)


def test_backend_and_size_fall_back_to_the_parametrisation_id(tmp_path) -> None:
    document = real_run()
    for bench in document["benchmarks"]:
        bench["params"] = None
    path = write(tmp_path, document)
    runs = benchmark_runs(load_document(path), path)
    assert sorted((r.backend, r.size) for r in runs) == [("memmap", 256), ("ram", 256)]


def test_ratio_interval_brackets_the_ratio_of_medians() -> None:
    ram = [1.0, 1.1, 0.9, 1.05, 0.95] * 10
    low, high = ratio_of_medians_interval(ram, [2 * t for t in ram])
    assert low <= 2.0 <= high and high - low < 0.5
    assert ratio_of_medians_interval([1.0], [2.0]) is None


def test_rows_judge_with_the_threshold(tmp_path) -> None:
    path = write(tmp_path, with_memmap_scaled(1.2))
    pairs = pair_runs(benchmark_runs(load_document(path), path), path)
    assert [row.verdict for row in gate_rows(pairs, 2.0)] == [Verdict.PASS]
    assert [row.verdict for row in gate_rows(pairs, 1.01)] == [Verdict.FAIL]
