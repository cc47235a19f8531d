"""CLI and write_report tests: exit codes, one-line errors, no partial report, --force."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from reports.cli import main
from reports.errors import ReportExistsError, ReportInputError
from reports.writer import publish_files, write_report

DATA = Path(__file__).parent / "data"
HARNESS_JSON = DATA / "harness_result.json"
ASV_RESULTS = DATA / "asv_results"
PYTEST_BENCHMARK_JSON = DATA / "pytest_benchmark.json"
ALL_FILES = {
    "report.md", "report.html", "measurements.csv", "criteria.csv", "ratio_verdicts.csv",
    "report.json", "junit.xml", "plot_ratios.png", "plot_memory.png", "plot_history.png",
}


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_error_line(err: str, *fragments: str) -> None:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("farm-harness report: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def assert_nothing_left(parent: Path, out: Path) -> None:
    """No report directory and no staging directory left behind after a failure."""
    assert not out.exists()
    assert [p.name for p in parent.iterdir() if p.name.startswith(".")] == []


def test_writes_every_format_and_lists_the_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    code, stdout, err = run(["--from", str(HARNESS_JSON), "--from", str(ASV_RESULTS),
                             "--from", str(PYTEST_BENCHMARK_JSON), "--out", str(out)], capsys)
    assert (code, err) == (0, "")
    assert {p.name for p in out.iterdir()} == ALL_FILES
    assert sorted(Path(line).name for line in stdout.splitlines()) == sorted(ALL_FILES)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]  # staging dir removed


def test_format_subset_writes_only_those(tmp_path: Path) -> None:
    written = write_report([HARNESS_JSON], tmp_path / "r", formats="md,junit")
    assert sorted(p.name for p in written) == ["junit.xml", "report.md"]
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["junit.xml", "report.md"]


def test_missing_file_exits_2_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.json"
    out = tmp_path / "out"
    code, stdout, err = run(["--from", str(missing), "--out", str(out)], capsys)
    assert (code, stdout) == (2, "")
    assert_one_error_line(err, str(missing), "no such file")
    assert_nothing_left(tmp_path, out)


def test_json_of_the_wrong_kind_exits_2_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wrong = tmp_path / "package.json"
    wrong.write_text(json.dumps({"name": "not-a-result", "version": "1.0"}))
    out = tmp_path / "out"
    # a good input before the bad one must not leave a partial report either
    code, _, err = run(["--from", str(HARNESS_JSON), "--from", str(wrong), "--out", str(out)], capsys)
    assert code == 2
    assert_one_error_line(err, str(wrong), "not a farm-harness result")
    assert_nothing_left(tmp_path, out)


def test_asv_directory_without_results_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "results"
    (results / "box").mkdir(parents=True)
    (results / "benchmarks.json").write_text("{}")
    (results / "box" / "machine.json").write_text('{"machine": "box", "version": 1}')
    out = tmp_path / "out"
    code, _, err = run(["--from", str(results), "--out", str(out)], capsys)
    assert code == 2
    assert_one_error_line(err, str(results), "holds no result files")
    assert not out.exists()


def test_unknown_format_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["--from", str(HARNESS_JSON), "--out", str(tmp_path / "o"), "--format", "md,pdf"], capsys)
    assert code == 2
    assert_one_error_line(err, "unknown report format 'pdf'")
    assert not (tmp_path / "o").exists()


def test_usage_error_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["--out", "x"], capsys)
    assert code == 2
    assert_one_error_line(err, "--from")


def test_existing_report_is_kept_without_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    old = out / "report.md"
    old.write_text("old report\n")
    code, _, err = run(["--from", str(HARNESS_JSON), "--out", str(out)], capsys)
    assert code == 2
    assert_one_error_line(err, str(out), "already exists", "--force")
    assert old.read_text() == "old report\n"
    assert [p.name for p in out.iterdir()] == ["report.md"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]

    code, _, err = run(["--from", str(HARNESS_JSON), "--out", str(out), "--force"], capsys)
    assert (code, err) == (0, "")
    assert old.read_text().startswith("# farm-grids report: FAIL")


def test_write_report_raises_typed_errors(tmp_path: Path) -> None:
    write_report([HARNESS_JSON], tmp_path, formats=["md"])
    with pytest.raises(ReportExistsError):
        write_report([HARNESS_JSON], tmp_path, formats=["md"])
    with pytest.raises(ReportInputError):
        write_report([HARNESS_JSON], tmp_path / "x", formats=[])
    with pytest.raises(FileExistsError):  # the typed error is also the built-in one
        write_report([HARNESS_JSON], tmp_path, formats="md")


def test_out_path_that_is_a_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    code, _, err = run(["--from", str(HARNESS_JSON), "--out", str(target)], capsys)
    assert code == 2
    assert_one_error_line(err, str(target), "not a directory")
    assert target.read_text() == "x"


def test_a_failure_while_writing_leaves_no_partial_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    # the second file cannot be written (its folder does not exist in the staging dir)
    files = {"report.md": b"# ok\n", "missing-dir/junit.xml": b"<x/>"}
    with pytest.raises(FileNotFoundError):
        publish_files(files, out)
    assert list(tmp_path.iterdir()) == []


def test_runs_as_a_module(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "reports.cli", "--from", str(tmp_path / "absent.json"), "--out", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 2
    assert completed.stderr.count("\n") == 1 and "absent.json" in completed.stderr
