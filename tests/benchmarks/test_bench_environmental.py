"""pytest-benchmark: environmental layer windows through EnvironmentalGridManager."""

from __future__ import annotations

import pytest
from .benchsupport import backend_size_params, bench_workload


@pytest.mark.parametrize(("backend", "size"), backend_size_params())
def test_environmental_windows(benchmark, grid_dir, backend, size) -> None:
    window = bench_workload(benchmark, "environmental_windows", backend, size, grid_dir)
    assert window.shape == (13, 13)
