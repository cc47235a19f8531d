"""pytest-benchmark: temporal channels — deposit, dense decay, active-tile decay, window reads."""

from __future__ import annotations

import pytest
from .benchsupport import backend_size_params, bench_workload

from harness.workloads.micro import DEPOSIT_EVENTS


@pytest.mark.parametrize(("backend", "size"), backend_size_params())
def test_temporal_deposit(benchmark, grid_dir, backend, size) -> None:
    assert bench_workload(benchmark, "temporal_deposit", backend, size, grid_dir) == DEPOSIT_EVENTS


@pytest.mark.parametrize(("backend", "size"), backend_size_params())
def test_temporal_decay(benchmark, grid_dir, backend, size) -> None:
    bench_workload(benchmark, "temporal_decay", backend, size, grid_dir)


@pytest.mark.parametrize(("backend", "size"), backend_size_params())
def test_sparse_decay(benchmark, grid_dir, backend, size) -> None:
    bench_workload(benchmark, "sparse_decay", backend, size, grid_dir)


@pytest.mark.parametrize(("backend", "size"), backend_size_params())
def test_temporal_windows(benchmark, grid_dir, backend, size) -> None:
    window = bench_workload(benchmark, "temporal_windows", backend, size, grid_dir)
    assert window.shape == (13, 13)
