"""What one validation run measures, and how hard: quick (CI), full, or full with the big-world figures."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.acceptance.checks import KNOWN_CRITERIA
from harness.acceptance.out_of_core import OutOfCorePlan
from harness.acceptance.performance import FULL_TIMING, QUICK_TIMING, TimingSettings
from harness.acceptance.scope import DEFAULT_BACKEND
from harness.errors import HarnessUsageError
from harness.probes.cold_windows import COLD_WORKLOADS
from harness.probes.memory import FULL_SIZES, QUICK_SIZES
from harness.verdicts import COLD_THRESHOLD, DEFAULT_THRESHOLD
from harness.workloads.catalog import GATED_WORKLOADS

# The big-world figures of C9 (--big): a 1 GiB cold gather, an 8192^2 frontier, the slope to 16384^2.
BIG_OUT_OF_CORE = OutOfCorePlan(gather_size=16384, gather_windows=10_000, frontier_size=8192, gather_trials=3, frontier_pairs=8,
                                tiled_probes=True, gather_floor_line=True, judge_slope=True)


@dataclass(frozen=True)
class ValidationPlan:
    """What one validation run measures, and how hard."""

    mode: str = "quick"
    threshold: float = DEFAULT_THRESHOLD
    workloads: tuple[str, ...] = GATED_WORKLOADS
    criteria: tuple[str, ...] = KNOWN_CRITERIA
    timing_sizes: tuple[int, ...] = (1024,)
    memory_sizes: tuple[int, ...] = QUICK_SIZES
    timing: TimingSettings = QUICK_TIMING
    cold_trials: int = 4
    cold_threshold: float = COLD_THRESHOLD
    out_of_core: OutOfCorePlan = OutOfCorePlan()
    scratch_parent: Path | None = None  # where the scratch dir goes (None: the system temp dir)
    backend: str = DEFAULT_BACKEND  # the registered file backend measured against RAM
    cold_rows: bool = True  # False where they do not apply to the backend (see harness.acceptance.scope)

    @classmethod
    def for_mode(cls, quick: bool, big: bool = False, **changes: Any) -> ValidationPlan:
        """Quick (CI), full, or full with the big-world figures of C9 (``--big``: they do not fit full's budget)."""
        if quick and big:
            raise HarnessUsageError("--quick and --big are exclusive (--big measures 1 GiB grids)")
        if quick:
            return cls(**changes)
        full = {"mode": "full", "timing_sizes": (1024, 4096), "memory_sizes": FULL_SIZES,
                "timing": FULL_TIMING, "cold_trials": 6,
                "out_of_core": OutOfCorePlan(gather_size=4096, gather_windows=4000, frontier_size=2048,
                                             gather_trials=2, frontier_pairs=6, tiled_probes=True, judge_slope=True)}
        if big:
            full.update(mode="big", out_of_core=BIG_OUT_OF_CORE)
        return cls(**{**full, **changes})

    @property
    def evidence_size(self) -> int:
        return self.timing_sizes[0]

    @property
    def cold_workloads(self) -> tuple[str, ...]:
        return tuple(w for w in self.workloads if w in COLD_WORKLOADS) if self.cold_rows else ()

    def wants(self, *ids: str) -> bool:
        return any(cid in self.criteria for cid in ids)
