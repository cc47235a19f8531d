"""Every JSON a command reads is checked whole against its schema: off-schema input is exit 2 (or a typed error), never a crash."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.results.asv_compare import load_values
from harness.results.asv_history import detected_steps
from harness.errors import InputFileError

from .harness_cli import assert_usage_error, run_harness

ASV_RESULTS = Path(__file__).resolve().parents[1] / "reports" / "data" / "asv_results"
RESULT_FILE = "testbox/11111111-existing-py3.11.json"


def _asv_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "asv_results"
    shutil.copytree(ASV_RESULTS, copy)
    return copy


def _edit(path: Path, change) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(json.dumps(document), encoding="utf-8")


def test_the_asv_results_copy_renders(tmp_path: Path) -> None:
    result = run_harness("report", "--from", str(_asv_copy(tmp_path)), "--out", str(tmp_path / "out"),
                         "--format", "md", cwd=tmp_path)
    assert result.returncode == 0, result.explain()


def _first_result(document: dict) -> list:
    """The packed result of a time benchmark (asv writes those with their intervals)."""
    return next(packed for name, packed in sorted(document["results"].items()) if ".time_" in name)


def _stats_column(document: dict) -> int:
    return document["result_columns"].index("stats_ci_99_a")


@pytest.mark.parametrize(("where", "change", "fragment"), [
    ("benchmarks.json", lambda d: d.update({sorted(k for k in d if k != "version")[0]: 5}), "benchmarks.json"),
    ("benchmarks.json", lambda d: d.update(version="two"), "version"),
    ("testbox/machine.json", lambda d: d.update(machine=["box"]), "machine"),
    (RESULT_FILE, lambda d: _first_result(d).__setitem__(_stats_column(d), 0.5), "stats_ci_99_a"),
    (RESULT_FILE, lambda d: d.update(result_columns="result"), "result_columns"),
], ids=["benchmark-not-an-object", "version-not-a-number", "machine-not-text", "interval-not-a-list",
        "columns-not-a-list"])
def test_an_asv_file_off_its_schema_is_a_usage_error_of_report(tmp_path: Path, where: str, change, fragment: str) -> None:
    results = _asv_copy(tmp_path)
    _edit(results / where, change)
    out = tmp_path / "out"
    result = run_harness("report", "--from", str(results), "--out", str(out), "--format", "md", cwd=tmp_path)
    assert_usage_error(result, fragment)
    assert not out.exists()


def test_bench_ci_refuses_an_off_schema_benchmarks_json(tmp_path: Path) -> None:
    pytest.importorskip("asv")
    results = _asv_copy(tmp_path)
    _edit(results / "benchmarks.json", lambda d: d.update({"bench.X.time_x": ["not", "metadata"]}))
    with pytest.raises(InputFileError, match="benchmarks.json"):
        load_values(results, "testbox", "11111111")


REGRESSION = ["bench.X.time_x('ram', 512)", "graphs/x.json", {"machine": "box"}, 0, 2e-3, 1e-3, [[None, 94, 1e-3, 2e-3]]]


@pytest.mark.parametrize(("index", "regressions"), [
    ({"revision_to_hash": {"94": "c" * 40}}, {"regressions": [REGRESSION]}),
    ({"revision_to_hash": {"ninety-four": "c" * 40}}, {"regressions": [REGRESSION]}),
    ({"revision_to_hash": {"94": "c" * 40}}, {"regressions": [REGRESSION[:3]]}),
    ({"revision_to_hash": {"94": "c" * 40}}, {"regressions": [[*REGRESSION[:6], [[None, 94, "fast", 2e-3]]]]}),
    ({"revision_to_hash": {"94": "c" * 40}}, {"regressions": [[*REGRESSION[:4], None, 1e-3, []]]}),
], ids=["well-formed", "revision-not-a-number", "entry-too-short", "jump-value-not-a-number", "last-missing"])
def test_asv_publish_output_is_checked_before_it_is_read(tmp_path: Path, index: dict, regressions: dict) -> None:
    (tmp_path / "index.json").write_text(json.dumps(index), encoding="utf-8")
    (tmp_path / "regressions.json").write_text(json.dumps(regressions), encoding="utf-8")
    if regressions["regressions"] == [REGRESSION] and "94" in index["revision_to_hash"]:
        steps = detected_steps(tmp_path)
        assert steps[0]["jumps"][0]["after_commit"] == "c" * 40 and steps[0]["ratio"] == pytest.approx(2.0)
        return
    with pytest.raises(InputFileError, match=r"(index|regressions)\.json"):
        detected_steps(tmp_path)
