"""The named comparisons measured and judged: ratio against its target, the per-item interval against its limit."""

from __future__ import annotations

import contextlib
import fnmatch
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import HarnessUsageError
from harness.probes.stats import median_interval
from harness.probes.tempfiles import scratch_dir
from harness.probes.timing import PairedTiming, measure_paired
from harness.verdicts import Verdict, judge_ratio, worst
from harness.workloads.comparison_catalog import COMPARISONS
from harness.workloads.comparison_pairs import ComparisonSpec


@dataclass(frozen=True)
class ComparisonResult:
    """A measured comparison, judged: ratio = candidate/baseline time (speed-up = 1/ratio)."""

    name: str
    size: int
    ratio: float
    ci_low: float
    ci_high: float
    max_ratio: float
    target: str
    unit: str
    baseline_per_unit_s: float
    candidate_per_unit_s: float
    per_unit_limit_s: float | None
    per_unit_ci: tuple[float, float] | None
    verdict: Verdict
    blocks: int
    iterations_per_block: int

    @property
    def speedup(self) -> float:
        return 1.0 / self.ratio


def judge(spec: ComparisonSpec, size: int, timing: PairedTiming) -> ComparisonResult:
    """The ratio judged against ``max_ratio``; the candidate's per-item interval against its limit."""
    per_call = timing.iterations_per_block * spec.units
    verdicts = [judge_ratio(timing.ci_low, timing.ci_high, spec.max_ratio)]
    per_unit_ci = None
    if spec.per_unit_limit_s is not None:
        per_unit_ci = median_interval(np.asarray(timing.candidate_block_s) / per_call)
        verdicts.append(judge_ratio(per_unit_ci[0], per_unit_ci[1], spec.per_unit_limit_s))
    return ComparisonResult(
        name=spec.name, size=size, ratio=timing.ratio, ci_low=timing.ci_low, ci_high=timing.ci_high,
        max_ratio=spec.max_ratio, target=spec.target, unit=spec.unit,
        baseline_per_unit_s=timing.baseline_median_s / per_call, candidate_per_unit_s=timing.candidate_median_s / per_call,
        per_unit_limit_s=spec.per_unit_limit_s, per_unit_ci=per_unit_ci, verdict=worst(verdicts),
        blocks=timing.blocks, iterations_per_block=timing.iterations_per_block,
    )


def run_comparison(spec: ComparisonSpec, *, size: int | None = None, directory: Path | None = None, blocks: int = 30,
                   time_budget_s: float | None = None, seed: int = 0) -> ComparisonResult:
    """Build ``spec`` (memmap files in ``directory`` or a scratch dir), time it paired, clean up, judge."""
    chosen = spec.size if size is None else size
    with contextlib.ExitStack() as stack:
        where = directory if directory is not None else stack.enter_context(scratch_dir("farm-cmp-"))
        pair = spec.build(chosen, where)
        stack.callback(pair.cleanup.close)
        timing = measure_paired(pair.baseline, pair.candidate, workload=spec.name, blocks=blocks,
                                min_block_s=spec.min_block_s, time_budget_s=time_budget_s, seed=seed)
    return judge(spec, chosen, timing)


def select(patterns: str | None) -> list[ComparisonSpec]:
    """Comparisons whose name matches any comma-separated name or glob; all when None."""
    if patterns is None:
        return list(COMPARISONS.values())
    wanted = [p.strip() for p in patterns.split(",") if p.strip()]
    unmatched = [p for p in wanted if not fnmatch.filter(COMPARISONS, p)]
    if not wanted or unmatched:
        raise HarnessUsageError(f"--only {patterns!r} matches no comparison (known: {', '.join(COMPARISONS)})")
    return [spec for name, spec in COMPARISONS.items() if any(fnmatch.fnmatchcase(name, p) for p in wanted)]
