"""The benchmark gate: memmap/RAM pairs of a pytest-benchmark run, each ratio judged like validate's C4 rows."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.acceptance.performance import PerformanceEvidence, judge_rows
from harness.verdicts import RatioRow
from harness.errors import InputFileError
from harness.results.pytest_benchmark import backend_and_size, load_pytest_benchmark_json, workload_of
from harness.results.document import BACKENDS, build_result
from harness.probes.stats import ratio_of_medians_interval
from harness.verdicts import Verdict, judge_ratio, overall

NO_RAW_DATA = "none: no raw data"


@dataclass(frozen=True)
class BenchmarkRun:
    """One pytest-benchmark entry reduced to what the gate needs."""

    name: str
    workload: str  # the benchmark's group (the suite groups by workload)
    backend: str
    size: int | None
    other_params: tuple[tuple[str, str], ...]  # parameters besides backend and size (e.g. flush_policy)
    median_s: float
    rounds: int
    data: tuple[float, ...]  # raw per-round times per iteration; empty unless the JSON kept them

    @property
    def pair_key(self) -> tuple[str, int | None, tuple[tuple[str, str], ...]]:
        return self.workload, self.size, self.other_params


@dataclass(frozen=True)
class GateRow:
    """memmap/RAM of one workload at one size (and other parameters), judged against the threshold."""

    workload: str
    size: int | None
    ratio: float  # memmap median / RAM median
    ci_low: float | None
    ci_high: float | None
    interval: str  # how the interval was obtained
    ram_median_s: float
    memmap_median_s: float
    ram_rounds: int
    memmap_rounds: int
    threshold: float
    verdict: Verdict


def _bad(path: Path, message: str) -> InputFileError:
    return InputFileError(f"{path}: {message}")


def load_document(path: Path) -> dict[str, Any]:
    """A pytest-benchmark run (``--benchmark-json`` or a saved run), checked against its schema."""
    return load_pytest_benchmark_json(path)


def _positive_finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def benchmark_runs(document: Mapping[str, Any], path: Path) -> list[BenchmarkRun]:
    """Every entry with a ram or memmap backend; entries of other kinds are not the gate's business."""
    runs = []
    for index, entry in enumerate(document["benchmarks"]):
        name = str(entry.get("fullname") or entry.get("name") or f"benchmarks[{index}]")
        backend, size = backend_and_size(entry)
        if backend not in BACKENDS:
            continue
        stats_block = entry.get("stats")
        median = stats_block.get("median") if isinstance(stats_block, dict) else None
        if not _positive_finite(median):
            raise _bad(path, f"{name}: no positive stats.median")
        data = stats_block.get("data") or []
        if not isinstance(data, list) or not all(_positive_finite(v) for v in data):
            raise _bad(path, f"{name}: stats.data must be a list of positive times")
        params = entry.get("params") or {}
        others = tuple(sorted((str(k), str(v)) for k, v in params.items() if k not in ("backend", "size")))
        workload = workload_of(entry, name)
        runs.append(BenchmarkRun(name, workload, backend, size, others, float(median),
                                 int(stats_block.get("rounds") or len(data)), tuple(float(v) for v in data)))
    return runs


def pair_runs(runs: Sequence[BenchmarkRun], path: Path) -> list[tuple[BenchmarkRun, BenchmarkRun]]:
    """(ram, memmap) pairs with the same workload, size and other parameters; a duplicate is an error."""
    found: dict[tuple[Any, ...], dict[str, BenchmarkRun]] = {}
    for run in runs:
        slot = found.setdefault(run.pair_key, {})
        if run.backend in slot:
            raise _bad(path, f"two {run.backend} runs for {_label(run)} at size {run.size}: "
                             f"{slot[run.backend].name} and {run.name}")
        slot[run.backend] = run
    pairs = [(slot["ram"], slot["memmap"]) for slot in found.values() if len(slot) == 2]
    if not pairs:
        raise _bad(path, "no ram/memmap pairs (benchmarks need params backend and size, grouped by workload)")
    return pairs


def _label(run: BenchmarkRun) -> str:
    """The workload with its parameters other than backend and size, e.g. 'write_path[flush_policy=tick]'."""
    extra = ",".join(f"{k}={v}" for k, v in run.other_params)
    return f"{run.workload}[{extra}]" if extra else run.workload


def gate_rows(pairs: Sequence[tuple[BenchmarkRun, BenchmarkRun]], threshold: float) -> list[GateRow]:
    """Judge every pair; a pair without raw data has no interval, so it is WARN (never PASS or FAIL)."""
    rows = []
    for ram, memmap in pairs:
        interval = ratio_of_medians_interval(ram.data, memmap.data)
        low, high = interval if interval is not None else (None, None)
        how = f"bootstrap {len(ram.data)}+{len(memmap.data)} rounds" if interval is not None else NO_RAW_DATA
        rows.append(GateRow(
            workload=_label(ram), size=ram.size, ratio=memmap.median_s / ram.median_s, ci_low=low, ci_high=high,
            interval=how, ram_median_s=ram.median_s, memmap_median_s=memmap.median_s, ram_rounds=ram.rounds,
            memmap_rounds=memmap.rounds, threshold=threshold, verdict=judge_ratio(low, high, threshold),
        ))
    return sorted(rows, key=lambda r: (r.workload, r.size or 0))


def result_document(rows: Sequence[GateRow], document: Mapping[str, Any], threshold: float,
                    duration_s: float) -> dict[str, Any]:
    """A farm-harness result (schema v1) with criterion C4, so `farm-harness report` renders the gate."""
    ratio_rows = tuple(RatioRow(workload=r.workload, ratio=r.ratio, size=r.size, threshold=threshold,
                                ci_low=math.nan if r.ci_low is None else r.ci_low,
                                ci_high=math.nan if r.ci_high is None else r.ci_high) for r in rows)
    info = document.get("machine_info") or {}
    machine = {"hostname": info.get("node"), "platform": f"{info.get('system', '')} {info.get('release', '')}".strip(),
               "machine": info.get("machine"), "python": info.get("python_version"),
               "cpu_count": (info.get("cpu") or {}).get("count"), "source": "pytest-benchmark"}
    ratios = [{"workload": r.workload, "size": r.size, "cache": "warm", "ratio": r.ratio, "ci_low": r.ci_low,
               "ci_high": r.ci_high, "threshold": threshold, "verdict": r.verdict, "interval": r.interval,
               "ram_median_s": r.ram_median_s, "memmap_median_s": r.memmap_median_s,
               "ram_rounds": r.ram_rounds, "memmap_rounds": r.memmap_rounds} for r in rows]
    return build_result(
        verdict=overall(r.verdict for r in rows), mode="full", threshold=threshold,
        criteria=[judge_rows(PerformanceEvidence(rows=ratio_rows))], duration_s=duration_s, ratios=ratios,
        machine=machine, commit=(document.get("commit_info") or {}).get("id"),
    )
