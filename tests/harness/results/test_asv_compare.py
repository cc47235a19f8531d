"""asv base-vs-head rows: results saved with asv's own API, judged with asv's significance test."""

from __future__ import annotations

import datetime
import json
import random
from pathlib import Path

import pytest

from harness.results import asv_compare
from harness.results.asv_compare import AsvValue, compare, judge, load_values

asv_results = pytest.importorskip("asv.results")
asv_runner = pytest.importorskip("asv.runner")

MACHINE = "testbox"
BASE, HEAD = "a" * 40, "b" * 40
NAME = "bench_windows.SingleWindow.time_run"
PARAMS = [["'ram'", "'memmap'"], ["512"]]


def samples(centre: float, n: int = 20, spread: float = 0.02, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    return [centre * (1 + rng.uniform(-spread, spread)) for _ in range(n)]


def save(results_dir: Path, commit: str, per_param: list[list[float] | None], version: str) -> None:
    """One asv result file for NAME, exactly as `asv run` saves it (stats computed by asv)."""
    result = asv_results.Results({"machine": MACHINE, "python": "3.11"}, {}, commit, 0, "3.11", "virtualenv-py3.11",
                                 {})
    benchmark = {"name": NAME, "version": version, "params": PARAMS, "param_names": ["backend", "size"]}
    values = [None if s is None else sorted(s)[len(s) // 2] for s in per_param]
    outcome = asv_runner.BenchmarkResult(result=values, samples=[s for s in per_param], number=[1] * len(per_param),
                                         errcode=0, stderr="", profile=None)
    result.add_result(benchmark, outcome, started_at=datetime.datetime.now(datetime.timezone.utc), record_samples=True)
    result.save(str(results_dir))
    meta = {NAME: {"name": NAME, "type": "time", "unit": "seconds", "param_names": ["backend", "size"],
                   "params": PARAMS, "version": version}, "version": 2}
    (results_dir / "benchmarks.json").write_text(json.dumps(meta))
    (results_dir / MACHINE).mkdir(exist_ok=True)
    (results_dir / MACHINE / "machine.json").write_text(json.dumps({"machine": MACHINE, "version": 1}))


def rows_for(tmp_path: Path, base: list[list[float] | None], head: list[list[float] | None],
             versions: tuple[str, str] = ("store_windows/v1", "store_windows/v1"), factor: float = 1.25):
    save(tmp_path, BASE, base, versions[0])
    save(tmp_path, HEAD, head, versions[1])
    return {r.params: r for r in compare(load_values(tmp_path, MACHINE, BASE), load_values(tmp_path, MACHINE, HEAD),
                                         factor)}


def test_a_large_significant_slowdown_is_a_regression_and_names_its_workload(tmp_path: Path) -> None:
    rows = rows_for(tmp_path, [samples(1e-4), samples(1e-4, seed=1)],
                    [samples(1.5e-4, seed=2), samples(1.02e-4, seed=3)])
    slowed, same = rows["'ram', 512"], rows["'memmap', 512"]
    assert slowed.verdict == asv_compare.REGRESSION and slowed.gating and slowed.significant
    assert slowed.ratio == pytest.approx(1.5, rel=0.05)
    assert slowed.ci_low is not None and 1.3 < slowed.ci_low <= slowed.ratio <= slowed.ci_high < 1.8
    assert (slowed.workload, slowed.backend, slowed.size) == ("store_windows", "ram", 512)
    assert same.verdict == asv_compare.UNCHANGED and not same.gating


def test_beyond_the_factor_but_not_significant_is_noise_not_a_regression(tmp_path: Path) -> None:
    wide = [1e-4, 3e-4, 1e-4, 3e-4, 1e-4, 3e-4]  # few, overlapping samples: asv's test cannot tell
    rows = rows_for(tmp_path, [wide, samples(1e-4)], [[x * 1.3 for x in wide], samples(1e-4, seed=4)])
    noisy = rows["'ram', 512"]
    assert noisy.verdict == asv_compare.NOISE and noisy.significant is False and not noisy.gating


def test_a_significant_change_below_the_factor_does_not_count(tmp_path: Path) -> None:
    rows = rows_for(tmp_path, [samples(1e-4, spread=0.001), samples(1e-4)],
                    [samples(1.1e-4, spread=0.001, seed=5), samples(1e-4, seed=6)])
    assert rows["'ram', 512"].verdict == asv_compare.UNCHANGED


def test_a_new_workload_version_is_a_new_series_not_a_change(tmp_path: Path) -> None:
    rows = rows_for(tmp_path, [samples(1e-4), samples(1e-4)], [samples(3e-4), samples(3e-4)],
                    versions=("store_windows/v1", "store_windows/v2"))
    assert {r.verdict for r in rows.values()} == {asv_compare.NEW_SERIES}
    assert all(r.ci_low is None for r in rows.values())


def test_a_benchmark_that_stops_running_breaks_the_change(tmp_path: Path) -> None:
    rows = rows_for(tmp_path, [samples(1e-4), samples(1e-4)], [None, samples(1e-4)])
    assert rows["'ram', 512"].verdict == asv_compare.BROKE and rows["'ram', 512"].gating


def _value(value: float | None, stats: dict | None = None, kind: str = "time") -> AsvValue:
    return AsvValue(NAME, ("'ram'", "512"), ("backend", "size"), kind, "seconds", "w/1", value, stats, None)


def test_single_value_kinds_are_unconfirmed_beyond_the_factor() -> None:
    assert judge(_value(1.0, {"repeat": 1}), _value(2.0, {"repeat": 1}), 1.25) == (asv_compare.UNCONFIRMED, None)
    assert judge(_value(1.0), _value(2.0), 1.25) == (asv_compare.UNCONFIRMED, None)


def test_a_head_without_base_is_no_base_and_a_missing_head_not_run() -> None:
    assert judge(None, _value(1.0), 1.25)[0] == asv_compare.NO_BASE
    assert judge(_value(1.0), None, 1.25)[0] == asv_compare.NOT_RUN
    assert judge(None, _value(None), 1.25)[0] == asv_compare.BROKE  # quick mode: it raised on head


def test_values_of_an_earlier_run_are_left_out(tmp_path: Path) -> None:
    save(tmp_path, BASE, [samples(1e-4), samples(1e-4)], "store_windows/v1")
    assert len(load_values(tmp_path, MACHINE, BASE)) == 2
    assert load_values(tmp_path, MACHINE, BASE, since_ms=4102444800000) == []  # a run starting in 2100


def test_rows_are_worst_first(tmp_path: Path) -> None:
    rows = compare([_value(1.0, None)], [_value(None)], 1.25)
    assert rows[0].verdict == asv_compare.BROKE
    assert load_values(tmp_path, "no-such-machine", BASE) == []
