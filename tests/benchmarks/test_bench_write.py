"""pytest-benchmark: the write path — one driver tick, flush policy "close" (writes stay in the page cache).

Flush policy "tick" is not here on purpose: its msync per tick has no RAM counterpart, so
its memmap/RAM ratio measures durability, not a regression; asv tracks it (bench_write).
"""

from __future__ import annotations

import pytest
from .benchsupport import backend_size_params, bench_workload


@pytest.mark.parametrize(("backend", "size"), backend_size_params())
def test_write_path(benchmark, grid_dir, backend, size) -> None:
    stats = bench_workload(benchmark, "write_path", backend, size, grid_dir)
    assert stats.alive > 0
