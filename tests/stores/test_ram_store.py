"""The shared store suite run against RamStore, plus what only the RAM backend promises."""

from __future__ import annotations

from typing import Iterator

import numpy as np
import pytest

from farm_grids import RamStore

from farm_grids.testing import StoreSuite


class TestRamStore(StoreSuite):
    @pytest.fixture
    def store(self) -> Iterator[RamStore]:
        store = RamStore()
        yield store
        store.close_all()


def test_ram_store_has_no_files_and_accepts_memmap_arguments(tmp_path) -> None:
    # Both backends are built from the same arguments; RAM ignores the file ones.
    store = RamStore(tmp_path, simulation_id="run", namespace="ns", default_dtype="float64")
    store.create("a", (3, 3))
    info = store.info("a")
    assert info.path is None and not info.file_backed and info.backend == "ram"
    assert store.get("a").dtype == np.float64
    assert list(tmp_path.iterdir()) == []
    store.close_all(delete_files=True)
