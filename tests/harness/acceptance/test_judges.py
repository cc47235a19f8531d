"""Table tests: ratio verdicts, overall verdicts and every criterion C1..C9 reaching PASS, WARN and FAIL."""

from __future__ import annotations

import math

import pytest

from harness.acceptance import checks, coverage, env_grids, file_backing, memory_scaling, observations, performance, persistence, portability, tensors
from harness import verdicts as v


from harness.acceptance import out_of_core as c9
from harness.errors import HarnessUsageError
from harness.acceptance.portability import top_level_imports
from harness.acceptance.memory_scaling import scaling_evidence_of
from harness.probes.stats import fit_memory_slope
from harness.verdicts import Overall, Verdict

MIB = 1024**2
P, W, F = Verdict.PASS, Verdict.WARN, Verdict.FAIL


@pytest.mark.parametrize(
    ("low", "high", "threshold", "expected"),
    [
        (0.95, 1.05, 1.25, P),
        (1.10, 1.25, 1.25, P),  # upper bound exactly at the threshold passes
        (1.20, 1.30, 1.25, W),
        (1.25, 1.40, 1.25, W),  # lower bound exactly at the threshold is not above it
        (1.26, 1.40, 1.25, F),
        (math.nan, 1.0, 1.25, W),
        (1.0, math.nan, 1.25, W),
        (None, None, 1.25, W),
        (1.0, 1.1, math.nan, W),
    ],
)
def test_judge_ratio(low, high, threshold, expected) -> None:
    assert v.judge_ratio(low, high, threshold) is expected


@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [
        ([P, P, P], Overall.PASS),
        ([P, W, P], Overall.INCONCLUSIVE),
        ([P, W, F], Overall.FAIL),
        ([F], Overall.FAIL),
        ([], Overall.INCONCLUSIVE),
    ],
)
def test_overall(verdicts, expected) -> None:
    assert v.overall(verdicts) is expected
    assert v.overall(iter(verdicts)) is expected  # any iterable, consumed once


def test_worst_orders_by_severity() -> None:
    assert v.worst([P, F, W]) is F and v.worst([P, W]) is W and v.worst([]) is P


def layer(name: str, file_bytes: int | None = 4096, backed: bool = True) -> file_backing.LayerFile:
    return file_backing.LayerFile(layer=name, expected_bytes=4096, file_bytes=file_bytes, file_backed=backed)


ENV_LAYERS = ("OBSTACLES", "TERRAIN_COST", "VISIBILITY")


def env(*layers: file_backing.LayerFile) -> env_grids.EnvGridEvidence:
    return env_grids.EnvGridEvidence(expected_layers=ENV_LAYERS, layers=layers)


def ratio_row(workload: str, low: float, high: float, **kw) -> v.RatioRow:
    return v.RatioRow(workload=workload, ratio=(low + high) / 2, ci_low=low, ci_high=high, **kw)


TENSOR_OK = dict(torch_available=True, dtype="float32", shape=(8, 3, 5, 5), dtype_ok=True, shape_ok=True,
                 shares_memory=True, torch_op_ok=True)
GRID = (4 * MIB, 64 * MIB, 256 * MIB, 1024 * MIB)
PORTABLE = dict(storage_imports=frozenset({"numpy", "os", "json", "farm_grids"}),
                file_names=("TRAILS-1234-sim_a-9f3b.dat", "manifest.json"), platform="Linux-6.1-x86_64")

OUT_OF_CORE = {
    "gathers": (c9.GatherLine("tiles32 prefetch", 1024 * MIB, (14.0, 15.0), (1.01, 1.02), True, 20.0, 1.5),),
    "frontier": (c9.FrontierLine("tiles32@8192", 2.0, 1.8, 2.2, True, 4.0, floor_ratio=1.3, floor_reader="fio"),),
    "resident": (c9.ResidentPoint("tiles32", 28 * MIB, 250 * MIB, 22 * MIB, 20 * MIB),
                 c9.ResidentPoint("tiles32", 7 * 1024 * MIB, 260 * MIB, 71 * MIB, 70 * MIB)),
    "slopes": (c9.SlopeFit("tiles32", 0.001, (0.0, 0.005), 5),),
}
CASES = [
    # C1 environmental grids use memmap
    ("C1", env_grids.judge, env(*(layer(n) for n in ENV_LAYERS)), P, "3 layers"),
    ("C1", env_grids.judge, None, W, "cannot measure"),
    ("C1", env_grids.judge, env_grids.EnvGridEvidence((), ()), W, "cannot measure"),
    ("C1", env_grids.judge, env(layer("OBSTACLES"), layer("TERRAIN_COST")), F, "VISIBILITY: no file"),
    ("C1", env_grids.judge, env(*(layer(n) for n in ENV_LAYERS[:2]), layer("VISIBILITY", None)), F,
     "no file on disk"),
    ("C1", env_grids.judge, env(*(layer(n) for n in ENV_LAYERS[:2]), layer("VISIBILITY", 10)), F,
     "10 bytes"),
    ("C1", env_grids.judge, env(*(layer(n, backed=n != "OBSTACLES") for n in ENV_LAYERS)), F,
     "not file-backed"),
    # C2 observations equal RAM
    ("C2", observations.judge, observations.ObservationEvidence(64, 0.0, True, True), P, "bitwise"),
    ("C2", observations.judge, None, W, "cannot measure"),
    ("C2", observations.judge, observations.ObservationEvidence(0, 0.0, True, True), W, "cannot measure"),
    ("C2", observations.judge, observations.ObservationEvidence(64, math.nan, False, True), W, "NaN"),
    ("C2", observations.judge, observations.ObservationEvidence(64, 0.5, False, True), F, "max abs diff 0.5"),
    ("C2", observations.judge, observations.ObservationEvidence(64, 0.0, True, False), F, "not memmap-backed"),
    # C3 temporal persistence
    ("C3", persistence.judge, persistence.PersistenceEvidence(100, 1e-9, True, True), P, "read-only reopen"),
    ("C3", persistence.judge, None, W, "cannot measure"),
    ("C3", persistence.judge, persistence.PersistenceEvidence(0, 0.0, True, True), W, "cannot measure"),
    ("C3", persistence.judge, persistence.PersistenceEvidence(100, 0.1, True, True), F, "after reopen"),
    ("C3", persistence.judge, persistence.PersistenceEvidence(100, 0.0, False, True), F, "read-only"),
    ("C3", persistence.judge, persistence.PersistenceEvidence(100, 0.0, True, False), F, "did not decay"),
    # C4 performance: worst gating row decides
    ("C4", performance.judge, performance.PerformanceEvidence((ratio_row("a", 0.9, 1.1), ratio_row("b", 1.0, 1.2))), P,
     "worst of 2 rows: b"),
    ("C4", performance.judge, None, W, "cannot measure"),
    ("C4", performance.judge, performance.PerformanceEvidence((ratio_row("cold", 3.0, 4.0, gating=False),)), W,
     "no gating ratio rows"),
    ("C4", performance.judge, performance.PerformanceEvidence((ratio_row("a", 0.9, 1.1), ratio_row("b", 1.2, 1.3))), W, "b"),
    ("C4", performance.judge, performance.PerformanceEvidence((ratio_row("a", 0.9, 1.1),), required_workloads=("a", "e2e")),
     W, "not measured: e2e"),
    ("C4", performance.judge, performance.PerformanceEvidence((ratio_row("a", math.nan, math.nan),)), W, "a"),
    ("C4", performance.judge,
     performance.PerformanceEvidence((ratio_row("a", 1.3, 1.5), ratio_row("b", 1.2, 1.9), ratio_row("cold", 5, 6, gating=False))),
     F, "a"),
    # C5 tensor compatibility
    ("C5", tensors.judge, tensors.TensorEvidence(**TENSOR_OK), P, "zero-copy"),
    ("C5", tensors.judge, None, W, "cannot measure"),
    ("C5", tensors.judge, tensors.TensorEvidence(**{**TENSOR_OK, "torch_available": False}), W, "torch"),
    ("C5", tensors.judge, tensors.TensorEvidence(**{**TENSOR_OK, "shares_memory": False}), F, "zero-copy failed"),
    ("C5", tensors.judge, tensors.TensorEvidence(**{**TENSOR_OK, "dtype": "float64", "dtype_ok": False}), F,
     "dtype float64 failed"),
    # C6 memory scales with grid size, not loaded into RAM
    ("C6", memory_scaling.judge_scaling, scaling_evidence_of(True, GRID, (100 * MIB, 100.5 * MIB, 100.2 * MIB, 101 * MIB)),
     P, "anon grew 1.0 MiB"),
    ("C6", memory_scaling.judge_scaling, scaling_evidence_of(True, GRID[:2], (100 * MIB, 100.1 * MIB)), P, "anon grew"),
    ("C6", memory_scaling.judge_scaling, None, W, "cannot measure"),
    ("C6", memory_scaling.judge_scaling, memory_scaling.MemoryScalingEvidence(False, GRID, (1.0, 1.0, 1.0, 1.0)), W, "/proc"),
    ("C6", memory_scaling.judge_scaling, scaling_evidence_of(True, GRID, (None, None, None, 1.0)), W, "fewer than 2"),
    ("C6", memory_scaling.judge_scaling,  # noisy points: the slope interval straddles the threshold
     scaling_evidence_of(True, (4 * MIB, 64 * MIB, 128 * MIB), (100 * MIB, 80 * MIB, 103 * MIB)), W, "anon"),
    ("C6", memory_scaling.judge_scaling, scaling_evidence_of(True, GRID, tuple(100 * MIB + g for g in GRID)), F,
     "anon grew 1020.0 MiB"),
    ("C6", memory_scaling.judge_scaling, scaling_evidence_of(True, (1 * MIB, 2 * MIB), (0.0, 0.5 * MIB)), F, "anon grew"),
    # C7 coverage
    ("C7", coverage.judge, coverage.CoverageEvidence(coverage.REQUIRED_STRUCTURES), P, "all 7"),
    ("C7", coverage.judge, None, W, "cannot measure"),
    ("C7", coverage.judge, coverage.CoverageEvidence(frozenset(), frozenset()), W, "cannot measure"),
    ("C7", coverage.judge, coverage.CoverageEvidence(coverage.REQUIRED_STRUCTURES - {"TRAILS"}, frozenset({"TRAILS"})), W,
     "skipped: TRAILS"),
    ("C7", coverage.judge, coverage.CoverageEvidence(coverage.REQUIRED_STRUCTURES - {"RESOURCES", "TRAILS"}), F,
     "not covered: RESOURCES, TRAILS"),
    # C8 cross-platform
    ("C8", portability.judge, portability.PortabilityEvidence(**PORTABLE), P, "Linux-6.1-x86_64"),
    ("C8", portability.judge, None, W, "cannot measure"),
    ("C8", portability.judge, portability.PortabilityEvidence(**{**PORTABLE, "platform": ""}), W, "platform unknown"),
    ("C8", portability.judge, portability.PortabilityEvidence(**{**PORTABLE, "storage_imports": frozenset()}), W, "cannot"),
    ("C8", portability.judge,
     portability.PortabilityEvidence(**{**PORTABLE, "storage_imports": PORTABLE["storage_imports"] | {"torch"}}), F,
     "imports torch"),
    ("C8", portability.judge, portability.PortabilityEvidence(**{**PORTABLE, "file_names": ("a/b.dat", "CON.dat")}), F,
     "unsanitised"),
    # C9 out-of-core (tests/harness/test_criteria_c9.py has every line's cases)
    ("C9", c9.judge, c9.OutOfCoreEvidence(**OUT_OF_CORE), P, "resident file <= 1.10x needed"),
    ("C9", c9.judge, None, W, "cannot measure"),
    ("C9", c9.judge, c9.OutOfCoreEvidence(**{**OUT_OF_CORE, "frontier": ()}), W, "no frontier tick"),
    ("C9", c9.judge, c9.OutOfCoreEvidence(**{**OUT_OF_CORE, "resident": (
        c9.ResidentPoint("rows", 7 * 1024 * MIB, 4096 * MIB, 4000 * MIB, 400 * MIB),)}), F, "10.00x needed"),
]


@pytest.mark.parametrize(("cid", "judge", "evidence", "expected", "detail"), CASES)
def test_criterion_table(cid, judge, evidence, expected, detail) -> None:
    row = judge(evidence)
    assert (row.id, row.name) == (cid, checks.CRITERION_NAMES[cid])
    assert row.verdict is expected, row.details
    assert detail in row.details
    assert "\n" not in row.details


def test_every_criterion_has_pass_warn_and_fail_cases() -> None:
    outcomes = {(cid, expected) for cid, _, _, expected, _ in CASES}
    assert outcomes == {(cid, v) for cid in checks.KNOWN_CRITERIA for v in Verdict}


def test_performance_reports_the_worst_row_and_its_interval() -> None:
    rows = (ratio_row("a", 0.9, 1.1), ratio_row("b", 1.3, 1.5, size=4096), ratio_row("cold", 9, 9.5, gating=False))
    row = performance.judge(performance.PerformanceEvidence(rows))
    assert (row.value, row.ci_low, row.ci_high, row.threshold, row.unit) == (1.4, 1.3, 1.5, 1.25, "ratio")
    assert "b@4096" in row.details


def test_memory_scaling_reports_the_slope_in_mib_per_gib() -> None:
    row = memory_scaling.judge_scaling(scaling_evidence_of(True, (0.0, float(1024 * MIB)), (0.0, 1.0 * MIB)))
    assert row.unit == "MiB/GiB" and row.value == pytest.approx(1.0) and row.threshold == pytest.approx(10.24)


def test_fit_memory_slope_with_and_without_interval() -> None:
    slope, intercept, r2, interval = fit_memory_slope([1.0, 2.0, 3.0, 4.0], [3.0, 5.0, 7.1, 8.9])
    assert slope == pytest.approx(1.98) and intercept == pytest.approx(1.05) and r2 > 0.99
    assert interval is not None and interval[0] < slope < interval[1]
    assert fit_memory_slope([1.0, 2.0], [5.0, 5.0])[3] is None


@pytest.mark.parametrize(("grid", "anon"), [([1.0], [1.0]), ([1.0, 2.0], [1.0]), ([2.0, 2.0], [1.0, 3.0]),
                                            ([1.0, math.nan], [1.0, 2.0])])
def test_fit_memory_slope_rejects_bad_input(grid, anon) -> None:
    with pytest.raises(HarnessUsageError):
        fit_memory_slope(grid, anon)


def test_import_scan_and_name_sanitiser() -> None:
    source = "import os, numpy.linalg\nfrom json import dumps\nfrom . import errors\nimport torch as t\n"
    assert top_level_imports(source) == frozenset({"os", "numpy", "json", "torch"})
    assert portability.is_sanitised_file_name("RESOURCES-123-sim1-ab12.dat")
    for bad in ("a/b", "..", "", "name:colon", "NUL.txt", "trailing.", "sp ace", "x" * 300):
        assert not portability.is_sanitised_file_name(bad), bad


def test_fit_memory_slope_of_perfectly_flat_memory_is_an_exact_zero() -> None:
    slope, intercept, r2, interval = fit_memory_slope([1e6, 4e6, 16e6], [5e7, 5e7, 5e7])
    assert (slope, intercept, r2, interval) == (0.0, 5e7, 1.0, (0.0, 0.0))
