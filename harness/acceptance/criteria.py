"""Acceptance criteria C1..C8 (C9 in criteria_c9.py) as pure functions from small evidence records to verdicts."""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from harness.acceptance.out_of_core import C9_NAME
from harness.verdicts import DEFAULT_THRESHOLD, Criterion, Verdict, judge_ratio, unmeasurable, worst

KNOWN_CRITERIA: tuple[str, ...] = ("C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C9")
CRITERION_NAMES: Mapping[str, str] = {
    "C1": "environmental grids use memmap when enabled",
    "C2": "observations use memmap-backed layers and equal RAM",
    "C3": "temporal persistence",
    "C4": "performance within threshold",
    "C5": "tensor compatibility",
    "C6": "memory scales with grid size, not loaded into RAM",
    "C7": "validation covers every memmap structure",
    "C8": "cross-platform",
    "C9": C9_NAME,
}
REQUIRED_STRUCTURES: frozenset[str] = frozenset(
    {"OBSTACLES", "TERRAIN_COST", "VISIBILITY", "DAMAGE_HEAT", "TRAILS", "ALLY_SIGNAL", "RESOURCES"}
)
MIB, GIB = 1024**2, 1024**3
CANNOT_MEASURE = "cannot measure"


def _finite_or_none(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _row(cid: str, verdict: Verdict, details: str, **fields: object) -> Criterion:
    return Criterion(id=cid, name=CRITERION_NAMES[cid], verdict=verdict, details=details, **fields)


def _not_measured(cid: str, why: str = "no evidence (skipped)") -> Criterion:
    return _row(cid, Verdict.WARN, f"{CANNOT_MEASURE}: {why}")


def _bool_row(cid: str, problems: list[str], ok_details: str) -> Criterion:
    if problems:
        return _row(cid, Verdict.FAIL, "; ".join(problems), value=0.0, unit="bool")
    return _row(cid, Verdict.PASS, ok_details, value=1.0, unit="bool")


def _diff_row(cid: str, problems: list[str], diff: float, tolerance: float, ok_details: str) -> Criterion:
    verdict = Verdict.FAIL if problems else Verdict.PASS
    return _row(cid, verdict, "; ".join(problems) or ok_details, value=float(diff), threshold=float(tolerance))


@dataclass(frozen=True)
class LayerFile:
    """What was found on disk for one environmental layer."""
    layer: str
    expected_bytes: int  # rows * cols * itemsize
    file_bytes: int | None  # size on disk; None when no file was found
    file_backed: bool  # the array the manager hands out is backed by that file (np.memmap / mmap base)


@dataclass(frozen=True)
class EnvGridEvidence:
    """C1: the layers an environment with memmap enabled should have, and what was found."""
    expected_layers: tuple[str, ...]
    layers: tuple[LayerFile, ...]


def c1_env_grids_use_memmap(evidence: EnvGridEvidence | None) -> Criterion:
    """PASS when every expected layer has a file of the right size backing its array."""
    if evidence is None or not evidence.expected_layers:
        return _not_measured("C1")
    found = {layer.layer: layer for layer in evidence.layers}
    problems = []
    for name in evidence.expected_layers:
        layer = found.get(name)
        if layer is None or layer.file_bytes is None:
            problems.append(f"{name}: no file on disk")
        elif layer.file_bytes != layer.expected_bytes:
            problems.append(f"{name}: file has {layer.file_bytes} bytes, expected {layer.expected_bytes}")
        elif not layer.file_backed:
            problems.append(f"{name}: array is not file-backed")
    total = sum(found[n].expected_bytes for n in evidence.expected_layers if n in found)
    return _bool_row("C1", problems, f"{len(evidence.expected_layers)} layers file-backed, {total} bytes on disk")


@dataclass(frozen=True)
class ObservationEvidence:
    """C2: memmap observations compared with RAM observations of the same world."""
    observations_compared: int  # agents (or windows) whose memmap and RAM observations were compared
    max_abs_diff: float
    bitwise_equal: bool
    memmap_backed: bool  # the layers read by the memmap observation are file-backed


def c2_observations_match_ram(evidence: ObservationEvidence | None, tolerance: float = 0.0) -> Criterion:
    """PASS when memmap-backed observations equal RAM ones within ``tolerance``."""
    if evidence is None or evidence.observations_compared <= 0:
        return _not_measured("C2")
    if unmeasurable(evidence.max_abs_diff):
        return _not_measured("C2", "difference is NaN")
    problems = []
    if not evidence.memmap_backed:
        problems.append("observed layers are not memmap-backed")
    if evidence.max_abs_diff > tolerance:
        problems.append(f"max abs diff {evidence.max_abs_diff:g} > {tolerance:g}")
    how = "bitwise" if evidence.bitwise_equal else f"within {tolerance:g}"
    return _diff_row("C2", problems, evidence.max_abs_diff, tolerance,
                     f"{evidence.observations_compared} observations equal {how}")


@dataclass(frozen=True)
class PersistenceEvidence:
    """C3: temporal values deposited, decayed, flushed, then read back after a read-only reopen."""
    values_checked: int
    max_abs_diff: float  # |value after reopen - expected value after deposit + decay|
    reopened_read_only: bool
    decay_applied: bool  # update() changed the values before they were flushed


def c3_temporal_persistence(evidence: PersistenceEvidence | None, tolerance: float = 1e-6) -> Criterion:
    """PASS when decayed temporal values survive a read-only reopen."""
    if evidence is None or evidence.values_checked <= 0:
        return _not_measured("C3")
    if unmeasurable(evidence.max_abs_diff):
        return _not_measured("C3", "difference is NaN")
    problems = []
    if not evidence.reopened_read_only:
        problems.append("could not reopen read-only")
    if not evidence.decay_applied:
        problems.append("update() did not decay the deposited values")
    if evidence.max_abs_diff > tolerance:
        problems.append(f"max abs diff {evidence.max_abs_diff:g} > {tolerance:g} after reopen")
    return _diff_row("C3", problems, evidence.max_abs_diff, tolerance,
                     f"{evidence.values_checked} values match after read-only reopen")


@dataclass(frozen=True)
class RatioRow:
    """One memmap/RAM ratio with its interval; non-gating rows (e.g. cold cache) are shown but not judged."""
    workload: str
    ratio: float
    ci_low: float
    ci_high: float
    threshold: float = DEFAULT_THRESHOLD
    size: int | None = None
    cache: str = "warm"
    gating: bool = True

    @property
    def verdict(self) -> Verdict:
        return judge_ratio(self.ci_low, self.ci_high, self.threshold)


@dataclass(frozen=True)
class PerformanceEvidence:
    """C4: every ratio row measured, and the workloads that must have a gating row."""
    rows: tuple[RatioRow, ...]
    required_workloads: tuple[str, ...] = ()


def c4_performance(evidence: PerformanceEvidence | None) -> Criterion:
    """Worst gating ratio row decides; a required workload without a row caps the verdict at WARN."""
    gating = [] if evidence is None else [row for row in evidence.rows if row.gating]
    if not gating:
        return _not_measured("C4", "no gating ratio rows")
    # Worst row: most severe verdict, then the largest ratio among those.
    worst_row = max(gating, key=lambda r: (r.verdict.severity, -math.inf if math.isnan(r.ratio) else r.ratio))
    verdict = worst_row.verdict
    missing = sorted(set(evidence.required_workloads) - {row.workload for row in gating})
    label = worst_row.workload + (f"@{worst_row.size}" if worst_row.size is not None else "")
    details = f"worst of {len(gating)} rows: {label} ({worst_row.cache})"
    if missing:
        verdict = worst([verdict, Verdict.WARN])
        details += f"; not measured: {', '.join(missing)}"
    return _row(
        "C4", verdict, details, value=_finite_or_none(worst_row.ratio), ci_low=_finite_or_none(worst_row.ci_low),
        ci_high=_finite_or_none(worst_row.ci_high), threshold=worst_row.threshold, unit="ratio",
    )


@dataclass(frozen=True)
class TensorEvidence:
    """C5: what happened when the observation batch was handed to torch."""
    torch_available: bool
    dtype: str  # dtype of the tensor built from the observation batch
    shape: tuple[int, ...]
    dtype_ok: bool
    shape_ok: bool
    shares_memory: bool  # torch.from_numpy gave a zero-copy view of the batch
    torch_op_ok: bool  # a torch op (e.g. conv2d or sum) ran on the batch


def c5_tensor_compat(evidence: TensorEvidence | None) -> Criterion:
    """PASS when the batch reaches torch zero-copy with the right dtype and shape and an op runs."""
    if evidence is None:
        return _not_measured("C5")
    if not evidence.torch_available:
        return _not_measured("C5", "torch is not importable")
    checks = {f"dtype {evidence.dtype}": evidence.dtype_ok, f"shape {evidence.shape}": evidence.shape_ok,
              "zero-copy": evidence.shares_memory, "torch op": evidence.torch_op_ok}
    problems = [f"{name} failed" for name, ok in checks.items() if not ok]
    return _bool_row("C5", problems, f"{evidence.dtype} {evidence.shape}, zero-copy, torch op ran")


@dataclass(frozen=True)
class MemoryScalingEvidence:
    """C6: anonymous memory per grid size (each measured in a fresh process) and its fitted slope."""
    proc_available: bool  # /proc/self/smaps_rollup (or status) could be read
    grid_bytes: tuple[float, ...]  # total grid bytes per measured size
    anon_bytes: tuple[float | None, ...]  # Pss_Anon (or RssAnon) per size, same order
    # Bytes of anon memory per byte of grid over the measured points (harness.probes.stats.fit_memory_slope)
    # and its t-interval (None below 3 points); None when no fit was made.
    slope: float | None = None
    slope_interval: tuple[float, float] | None = None


def c6_memory_scales(
    evidence: MemoryScalingEvidence | None, slope_threshold: float = 0.01, max_growth_bytes: float = 64 * MIB
) -> Criterion:
    """Judge the anon-vs-grid slope (bytes per byte) like a ratio; too much absolute growth FAILs."""
    if evidence is None:
        return _not_measured("C6")
    if not evidence.proc_available:
        return _not_measured("C6", "/proc is not available")
    points = [(g, a) for g, a in zip(evidence.grid_bytes, evidence.anon_bytes) if not unmeasurable(a)]
    if len(points) < 2 or len({g for g, _ in points}) < 2:
        return _not_measured("C6", "fewer than 2 grid sizes measured")
    if evidence.slope is None or unmeasurable(evidence.slope):
        return _not_measured("C6", "no slope was fitted")
    points.sort()
    grid, anon = zip(*points)
    slope = evidence.slope
    low, high = evidence.slope_interval if evidence.slope_interval is not None else (slope, slope)
    growth = anon[-1] - anon[0]
    verdict = judge_ratio(low, high, slope_threshold)
    if growth >= max_growth_bytes:
        verdict = Verdict.FAIL
    per_gib = MIB / GIB  # report the slope as MiB of anon memory per GiB of grid
    details = (f"anon grew {growth / MIB:.1f} MiB (limit {max_growth_bytes / MIB:.0f}) from "
               f"{grid[0] / MIB:.0f} to {grid[-1] / MIB:.0f} MiB of grid")
    return _row(
        "C6", verdict, details, value=slope / per_gib, ci_low=low / per_gib, ci_high=high / per_gib,
        threshold=slope_threshold / per_gib, unit="MiB/GiB",
    )


@dataclass(frozen=True)
class CoverageEvidence:
    """C7: which memmap structures the validation measured."""
    measured: frozenset[str]  # structures the validation exercised through the memmap path
    skipped: frozenset[str] = frozenset()  # structures planned but not measured (quick mode, error)


def c7_coverage(evidence: CoverageEvidence | None, required: frozenset[str] = REQUIRED_STRUCTURES) -> Criterion:
    """FAIL when a required structure is absent from the validation; WARN when it was only skipped."""
    if evidence is None or not (evidence.measured or evidence.skipped):
        return _not_measured("C7")
    absent = sorted(required - evidence.measured - evidence.skipped)
    skipped = sorted((required & evidence.skipped) - evidence.measured)
    value = len(required & evidence.measured) / len(required) if required else 1.0
    if absent:
        verdict, details = Verdict.FAIL, f"not covered: {', '.join(absent)}"
    elif skipped:
        verdict, details = Verdict.WARN, f"skipped: {', '.join(skipped)}"
    else:
        verdict, details = Verdict.PASS, f"all {len(required)} structures measured"
    return _row("C7", verdict, details, value=value, threshold=1.0)


ALLOWED_STORAGE_IMPORTS: frozenset[str] = frozenset(sys.stdlib_module_names) | {"numpy", "farm_grids", "__future__"}
# Portable on Windows, macOS and Linux: no separators, no reserved characters, no device names.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
_WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def is_sanitised_file_name(name: str) -> bool:
    """True if ``name`` is a single portable file name component."""
    stem = name.split(".")[0].upper()
    return bool(_SAFE_NAME.match(name)) and not name.endswith(".") and stem not in _WINDOWS_DEVICES


@dataclass(frozen=True)
class PortabilityEvidence:
    """C8: what the storage core imports and which file names the engine produced."""
    storage_imports: frozenset[str]  # top-level modules imported by the engine's storage core
    file_names: tuple[str, ...]  # names of grid files the engine created (incl. odd layer names)
    platform: str


def c8_cross_platform(evidence: PortabilityEvidence | None) -> Criterion:
    """PASS when the storage core needs only stdlib + numpy and every file name is portable."""
    if evidence is None or not evidence.storage_imports or not evidence.file_names:
        return _not_measured("C8")
    if not evidence.platform:
        return _not_measured("C8", "platform unknown")
    foreign = sorted(evidence.storage_imports - ALLOWED_STORAGE_IMPORTS)
    unsafe = [name for name in evidence.file_names if not is_sanitised_file_name(name)]
    problems = [f"storage core imports {', '.join(foreign)}"] if foreign else []
    problems += [f"unsanitised file names: {', '.join(map(repr, unsafe[:3]))}"] if unsafe else []
    return _bool_row("C8", [f"{p} on {evidence.platform}" for p in problems],
                     f"stdlib + numpy only, {len(evidence.file_names)} names sanitised on {evidence.platform}")
