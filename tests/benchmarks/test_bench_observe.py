"""pytest-benchmark: end to end — observe_all for 1,000 agents x 13 channels."""

from __future__ import annotations

import pytest
from .benchsupport import backend_size_params, bench_workload


@pytest.mark.parametrize(("backend", "size"), backend_size_params())
def test_observe_all(benchmark, grid_dir, backend, size) -> None:
    observations = bench_workload(benchmark, "observe_all", backend, size, grid_dir)
    assert tuple(observations.shape) == (1000, 13, 13, 13)
