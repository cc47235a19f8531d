"""asv: end to end — observe_all for 1,000 agents x 13 channels (one batched gather per world layer)."""

from __future__ import annotations

from benchmarks.common import SIZES, MemmapRamRatio, WorkloadMemoryBenchmark


class ObserveAll(WorkloadMemoryBenchmark):
    """``Environment.observe_all()`` after three driver ticks; resident memory of the whole world too."""

    workload_name = "observe_all"


class ObserveAllRatio(MemmapRamRatio):
    """memmap/RAM ratio of observe_all."""

    workloads = ("observe_all",)
    params = [list(workloads), SIZES]
