"""asv: the write path — one driver tick (moves, deposits, consumption, update, flush per policy)."""

from __future__ import annotations

from benchmarks.common import SIZES, MemmapRamRatio, WorkloadBenchmark
from harness.workloads.catalog import BACKENDS


class WritePath(WorkloadBenchmark):
    """``WorkloadDriver.step()``: the flush policy decides when memmap pages are written back."""

    workload_name = "write_path"
    params = [list(BACKENDS), SIZES, ["close", "tick"]]
    param_names = ["backend", "size", "flush_policy"]

    def options(self, flush_policy: str) -> dict[str, object]:  # type: ignore[override]
        return {"flush_policy": flush_policy}


class WritePathRatio(MemmapRamRatio):
    """memmap/RAM ratio of one driver tick (flush policy "close")."""

    workloads = ("write_path",)
    params = [list(workloads), SIZES]
