"""The shared store suite run against SparseRamStore, plus its resident-memory promise."""

from __future__ import annotations

from typing import Iterator

import numpy as np
import pytest

from farm_grids.stores import SparseRamStore

from farm_grids.testing import StoreSuite


class TestSparseRamStore(StoreSuite):
    @pytest.fixture
    def store(self) -> Iterator[SparseRamStore]:
        store = SparseRamStore()
        yield store
        store.close_all()


def _rss_anon_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no RssAnon line")


@pytest.mark.skipif(not hasattr(__import__("mmap"), "MADV_NOHUGEPAGE"), reason="Linux only")
def test_scattered_writes_cost_small_pages_not_the_world() -> None:
    with SparseRamStore() as store:
        before = _rss_anon_bytes()
        store.create("hp", (16384, 16384))  # 1 GiB of address space
        rng = np.random.default_rng(0)
        store.add_many("hp", rng.integers(0, 16384, 1000), rng.integers(0, 16384, 1000), 1.0)
        grown = _rss_anon_bytes() - before
        # 1000 writes x 4 KiB pages = 4 MiB; 2 MiB huge pages would make it ~2 GiB-bound.
        assert grown < 16 * 2**20, f"anonymous memory grew {grown / 2**20:.1f} MiB"
        assert float(store.get("hp").sum()) == pytest.approx(1000.0, abs=2)
