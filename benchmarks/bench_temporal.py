"""asv: temporal channels — vectorised deposit, dense decay, active-tile (sparse) decay, window reads."""

from __future__ import annotations

from benchmarks.common import SIZES, MemmapRamRatio, WorkloadBenchmark, WorkloadMemoryBenchmark
from harness.workloads.catalog import BACKENDS


class Deposit(WorkloadBenchmark):
    """``deposit`` of 10,000 trail events at fixed random cells (one vectorised call)."""

    workload_name = "temporal_deposit"


class DecayDense(WorkloadMemoryBenchmark):
    """``apply_decay`` of all three channels with every tile active (whole-grid multiplies)."""

    workload_name = "temporal_decay"


class DecaySparseActive(WorkloadBenchmark):
    """``apply_decay`` when 1 % of the tiles hold data: cost follows the active area (8192 is slow)."""

    workload_name = "sparse_decay"
    params = [list(BACKENDS), [1024, 8192]]


class TemporalWindows(WorkloadBenchmark):
    """256 single R=6 windows cycling over the three dense channels."""

    workload_name = "temporal_windows"


class TemporalRatios(MemmapRamRatio):
    """memmap/RAM ratio of deposit, dense decay and window reads."""

    workloads = ("temporal_deposit", "temporal_decay", "temporal_windows")
    params = [list(workloads), SIZES]
