"""pytest-benchmark: window reads — single get_window, batched get_windows into a reused out, agent gathers."""

from __future__ import annotations

import numpy as np
import pytest
from .benchsupport import backend_size_params, bench_workload


@pytest.mark.parametrize(("backend", "size"), backend_size_params())
def test_store_windows(benchmark, grid_dir, backend, size) -> None:
    window = bench_workload(benchmark, "store_windows", backend, size, grid_dir)
    assert window.shape == (13, 13) and window.dtype == np.float32


@pytest.mark.parametrize(("backend", "size"), backend_size_params())
def test_store_batched_windows(benchmark, grid_dir, backend, size) -> None:
    windows = bench_workload(benchmark, "store_batched_windows", backend, size, grid_dir)
    assert windows.shape == (10_000, 13, 13)


@pytest.mark.parametrize(("backend", "size"), backend_size_params())
def test_batched_windows(benchmark, grid_dir, backend, size) -> None:
    windows = bench_workload(benchmark, "batched_windows", backend, size, grid_dir)
    assert windows.shape == (1000, 13, 13)
