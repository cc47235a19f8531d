"""The shared store suite run against MemmapStore, plus file-backed specifics."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest

from farm_grids import MemmapStore

from .store_suite import StoreSuite
from .support import temp_files_in


class TestMemmapStore(StoreSuite):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[MemmapStore]:
        store = MemmapStore(tmp_path / "grids")
        yield store
        store.close_all(delete_files=True)
        assert temp_files_in(tmp_path) == []

    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> Callable[..., MemmapStore]:
        return functools.partial(MemmapStore, tmp_path / "grids")


def test_memmap_grid_lives_in_a_file_of_the_right_size(tmp_path: Path) -> None:
    with MemmapStore(tmp_path) as store:
        arr = store.create("a", (5, 8), dtype="int32", fill=3)
        info = store.info("a")
        assert info.backend == "memmap" and info.file_backed
        assert info.path is not None and info.path.parent == tmp_path.resolve()
        assert info.path.stat().st_size == 5 * 8 * 4
        assert type(arr) is np.ndarray and not isinstance(store.get("a"), np.memmap)
        store.add_at("a", 4, 7, 2)
        store.flush("a")
        on_disk = np.fromfile(info.path, dtype=np.int32).reshape(5, 8)
        expected = np.full((5, 8), 3, dtype=np.int32)
        expected[4, 7] = 5
        np.testing.assert_array_equal(on_disk, expected)


def test_default_directory_is_the_system_temp_dir() -> None:
    import tempfile

    store = MemmapStore(simulation_id="default-dir-test")
    try:
        store.create("a", (2, 2))
        info = store.info("a")
        assert info.path is not None
        assert info.path.parent == Path(tempfile.gettempdir()).resolve()
    finally:
        store.close_all(delete_files=True)
    assert not info.path.exists() and not store.manifest_path.exists()
