"""Result JSON: schema fields, NaN -> null, atomic writes, schema-checked loading, machine info."""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
import subprocess

import numpy as np
import pytest

from harness.results import document as r
from harness.errors import ResultSchemaError
from harness.results.jsonfiles import to_jsonable
from harness.probes.timing import PairedTiming
from harness.verdicts import Criterion, Overall, Verdict

TIMING = PairedTiming(
    workload="resource_windows", ratio=1.02, ci_low=0.99, ci_high=1.04, confidence=0.95, blocks=3,
    iterations_per_block=40, baseline_block_s=(0.011, 0.012, 0.013), candidate_block_s=(0.012, 0.012, 0.013),
    baseline_median_s=0.012, candidate_median_s=0.012, gc_enabled=False, warmup_blocks=3,
)
CRITERIA = (
    Criterion("C4", "performance within threshold", Verdict.PASS, 1.02, 0.99, 1.04, 1.25, "ratio", "worst: x"),
    Criterion("C6", "memory scales with grid size, not loaded into RAM", Verdict.WARN, math.nan, None, None,
              None, "MiB/GiB", "cannot measure: /proc is not available"),
)


def make_result(**overrides):
    fields = dict(
        verdict=Overall.INCONCLUSIVE, mode="quick", threshold=1.25, criteria=CRITERIA, duration_s=21.3,
        ratios=[r.ratio_record(TIMING, threshold=1.25, size=1024)],
        memory=[{"size": 1024, "grid_bytes": 4194304, "pss_anon_bytes": np.float64(1.2e8),
                 "rss_anon_bytes": math.nan}],
        memory_fit=r.memory_fit_record(0.0012, 1.2e8, math.nan),
        created=dt.datetime(2026, 11, 25, 12, tzinfo=dt.timezone.utc),
        commit="abc123",
    )
    fields.update(overrides)
    return r.build_result(**fields)


def test_build_result_follows_the_schema() -> None:
    doc = make_result()
    assert doc["schema"] == "farm-harness/result/v1"
    assert (doc["verdict"], doc["mode"], doc["threshold"], doc["git_commit"]) == ("INCONCLUSIVE", "quick", 1.25, "abc123")
    assert doc["created"] == "2026-11-25T12:00:00+00:00"
    assert set(doc["machine"]) == {"hostname", "platform", "machine", "python", "cpu_count", "versions"}
    assert set(doc["machine"]["versions"]) == {"numpy", "torch", "scipy", "farm_grids"}
    assert doc["machine"]["versions"]["numpy"] == np.__version__
    assert doc["criteria"][0] == {"id": "C4", "name": "performance within threshold", "verdict": "PASS",
                                  "value": 1.02, "ci_low": 0.99, "ci_high": 1.04, "threshold": 1.25,
                                  "unit": "ratio", "details": "worst: x"}
    ratio = doc["ratios"][0]
    assert ratio["verdict"] == "PASS" and ratio["cache"] == "warm" and ratio["size"] == 1024
    assert ratio["ram_block_s"] == [0.011, 0.012, 0.013] and ratio["gc_enabled"] is False
    assert doc["memory_fit"] == {"slope": 0.0012, "intercept_bytes": 1.2e8, "r2": None}


def test_ratio_record_judges_against_its_threshold_and_can_drop_blocks() -> None:
    record = r.ratio_record(TIMING, threshold=1.01, cache="cold", include_blocks=False)
    assert record["verdict"] == "WARN" and record["cache"] == "cold"
    assert "ram_block_s" not in record


def test_round_trip_turns_nan_into_null(tmp_path) -> None:
    path = r.write_result(make_result(), tmp_path / "result.json")
    text = path.read_text()
    assert "NaN" not in text
    loaded = r.load_result(path)
    assert loaded == json.loads(json.dumps(make_result()))
    assert loaded["criteria"][1]["value"] is None
    assert loaded["memory"][0]["rss_anon_bytes"] is None and loaded["memory"][0]["pss_anon_bytes"] == 1.2e8


def test_atomic_write_leaves_only_the_target(tmp_path) -> None:
    target = tmp_path / "result.json"
    target.write_text("old")
    r.write_result(make_result(), target)
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_failed_write_keeps_the_old_file_and_no_temp_file(tmp_path) -> None:
    target = tmp_path / "result.json"
    target.write_text("old")
    with pytest.raises(TypeError):
        r.write_json_atomic({"bad": object()}, target)
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]
    assert target.read_text() == "old"


def test_write_result_refuses_a_document_without_the_schema_key(tmp_path) -> None:
    with pytest.raises(ResultSchemaError, match="schema"):
        r.write_result({"verdict": "PASS"}, tmp_path / "x.json")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"schema": "farm-harness/result/v0", "verdict": "PASS"}', "schema"),
        ('{"schema": "farm-harness/result/v1", "verdict": "MAYBE", "criteria": []}', "verdict must be one of"),
        ('{"schema": "farm-harness/result/v1", "verdict": "PASS"}', "has no 'criteria' key"),
        ('{"schema": "farm-harness/result/v1", "verdict": "PASS", "criteria": [], "ratios": [{"workload": 3}]}',
         r"ratios\[0\].workload must be string"),
        ('{"schema": "farm-harness/result/v1", "verdict": "PASS", "criteria": [], "threshold": NaN}', "NaN"),
        ('{"schema": "farm-harness/result/v1", "verdict": "PASS", "criteria": {}}', "criteria"),
        ('{"schema": "farm-harness/result/v1", "verdict": "PASS", "criteria": [{"id": "C1"}]}', r"criteria\[0\] has no 'verdict' key"),
    ],
)
def test_load_result_rejects_bad_documents_with_a_typed_error(tmp_path, text, message) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ResultSchemaError, match=message) as info:
        r.load_result(path)
    assert isinstance(info.value, ValueError)


def test_load_result_of_a_missing_file_raises_file_not_found(tmp_path) -> None:
    with pytest.raises(FileNotFoundError):
        r.load_result(tmp_path / "missing.json")


def test_bad_mode_is_rejected() -> None:
    with pytest.raises(ResultSchemaError, match="mode"):
        make_result(mode="fast")


def test_to_jsonable_handles_numpy_sets_and_infinities() -> None:
    value = {"a": np.int64(3), "b": (np.float32(0.5), math.inf), "c": frozenset({"y", "x"}), "d": Verdict.FAIL}
    assert to_jsonable(value) == {"a": 3, "b": [0.5, None], "c": ["x", "y"], "d": "FAIL"}


def test_git_commit_outside_a_repository_is_none(tmp_path) -> None:
    assert r.git_commit(tmp_path) is None


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_commit_inside_a_repository(tmp_path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args], cwd=tmp_path,
                       check=True, capture_output=True)

    git("init", "-q")
    git("commit", "-q", "--allow-empty", "-m", "first")
    commit = r.git_commit(tmp_path)
    assert commit is not None and len(commit) == 40


def test_package_version_of_a_missing_package_is_none() -> None:
    assert r.package_version("surely-not-installed-farm-pkg") is None
    assert r.package_version("scipy") is not None
