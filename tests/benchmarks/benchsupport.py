"""Helpers of the pytest-benchmark suite: (backend, size) parameters and one built-timed-closed workload."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.workloads.catalog import BACKENDS, WORKLOADS, build_workload

# Small by default so that ordinary test runs (--benchmark-disable) smoke-test every
# workload in seconds; FARM_BENCH_SIZES=1024,4096 measures bigger worlds.
SIZES = tuple(int(s) for s in os.environ.get("FARM_BENCH_SIZES", "256").split(",") if s.strip())


def backend_size_params() -> list[object]:
    """Parameters (backend, size) with ids like 'ram-256' (what reports and the gate parse)."""
    return [pytest.param(backend, size, id=f"{backend}-{size}") for size in SIZES for backend in BACKENDS]


def bench_workload(benchmark, name: str, backend: str, size: int, directory: Path, **options: object) -> object:
    """Build workload ``name``, run it once to warm it, time ``run()``, close it; return the last result."""
    spec = WORKLOADS[name]
    benchmark.group = name  # the gate and the reports pair ram/memmap runs within a group
    benchmark.extra_info.update(workload=name, backend=backend, size=size, description=spec.description, **options)
    workload = build_workload(name, backend, size, directory=directory, **options)
    try:
        workload.run()  # first-touch page faults are not what is timed
        result = benchmark(workload.run)
    finally:
        workload.close()
    leftovers = sorted(p.name for p in directory.iterdir())
    assert not leftovers, f"{name} left files behind: {leftovers}"
    return result
