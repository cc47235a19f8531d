"""pytest-benchmark: resource grid windows through ResourceManager."""

from __future__ import annotations

import pytest
from .benchsupport import backend_size_params, bench_workload


@pytest.mark.parametrize(("backend", "size"), backend_size_params())
def test_resource_windows(benchmark, grid_dir, backend, size) -> None:
    window = bench_workload(benchmark, "resource_windows", backend, size, grid_dir)
    assert window.shape == (13, 13)
