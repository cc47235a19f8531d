"""asv: the resource grid read through ResourceManager windows."""

from __future__ import annotations

from benchmarks.common import SIZES, MemmapRamRatio, WorkloadMemoryBenchmark


class ResourceWindows(WorkloadMemoryBenchmark):
    """256 single R=6 windows of the resource grid; resident memory too."""

    workload_name = "resource_windows"


class ResourceRatio(MemmapRamRatio):
    """memmap/RAM ratio of the resource window reads."""

    workloads = ("resource_windows",)
    params = [list(workloads), SIZES]
