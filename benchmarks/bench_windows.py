"""asv: window reads — single get_window, batched get_windows into a reused out, agent-centred gathers."""

from __future__ import annotations

import abc

from benchmarks.common import RADII, SIZES, MemmapRamRatio, WorkloadBenchmark
from harness.workloads.catalog import BACKENDS


class _ByRadius(WorkloadBenchmark, abc.ABC):
    """Window benchmarks also vary the radius R (window side 2R+1)."""

    params = [list(BACKENDS), SIZES, RADII]
    param_names = ["backend", "size", "radius"]

    def options(self, radius: int) -> dict[str, object]:  # type: ignore[override]
        return {"radius": radius}


class SingleWindow(_ByRadius):
    """256 single in-bounds R-windows through ``store.get_window`` (bare store, no manager)."""

    workload_name = "store_windows"


class BatchedWindows(_ByRadius):
    """One ``store.get_windows`` gather of 10,000 in-bounds R-windows into a reused ``out`` buffer."""

    workload_name = "store_batched_windows"


class AgentWindows(_ByRadius):
    """One manager ``get_windows`` gather for 1,000 agent centres, edges included (padding path)."""

    workload_name = "batched_windows"


class WindowRatios(MemmapRamRatio):
    """memmap/RAM ratio of the three window workloads."""

    workloads = ("store_windows", "store_batched_windows", "batched_windows")
    params = [list(workloads), SIZES]
