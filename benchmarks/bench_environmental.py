"""asv: environmental layers (obstacles, terrain cost, visibility) read through their manager."""

from __future__ import annotations

from benchmarks.common import SIZES, MemmapRamRatio, WorkloadMemoryBenchmark


class EnvironmentalWindows(WorkloadMemoryBenchmark):
    """256 single R=6 windows cycling over the three environmental layers; resident memory too."""

    workload_name = "environmental_windows"


class EnvironmentalRatio(MemmapRamRatio):
    """memmap/RAM ratio of the environmental window reads."""

    workloads = ("environmental_windows",)
    params = [list(workloads), SIZES]
