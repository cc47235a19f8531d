"""The shared store suite run against the chunked tile-dict test backend, built through the registry by name."""

from __future__ import annotations

from typing import Iterator

import numpy as np
import pytest

from farm_grids import ConfigError, GridNotDenseError
from farm_grids.config import MemmapConfig
from farm_grids.stores import backend_names, build_store

from farm_grids.testing import StoreSuite
from .tile_dict_backend import BACKEND_NAME, TILE, TileDictStore


@pytest.mark.usefixtures("tile_dict_backend")
class TestTileDictStore(StoreSuite):
    @pytest.fixture
    def store(self) -> Iterator[TileDictStore]:
        store = build_store(BACKEND_NAME, MemmapConfig(backend=BACKEND_NAME), namespace="suite")
        assert type(store) is TileDictStore
        yield store
        store.close_all()


def test_the_backend_is_known_by_name_only_while_registered(tile_dict_backend: str) -> None:
    assert tile_dict_backend in backend_names()
    assert MemmapConfig(backend=tile_dict_backend).backend == tile_dict_backend


def test_an_unregistered_name_is_a_config_error_listing_the_registered_ones() -> None:
    with pytest.raises(ConfigError, match="memmap") as raised:
        MemmapConfig(backend="tile-dict-never-registered")
    assert "ram" in str(raised.value) and "tile-dict-never-registered" in str(raised.value)


def test_tiles_are_made_only_where_something_was_written() -> None:
    # The backend's own state is inspected here, in its own test: nothing else may.
    with TileDictStore() as store:
        assert store.create("a", (3 * TILE, 2 * TILE + 5), fill=1.5) is None
        with pytest.raises(GridNotDenseError, match="read"):
            store.get("a")
        entry = store._entries["a"]
        assert entry.array is None and entry.state.tiles == {}
        store.add_many("a", [0, 2 * TILE + 3], [2 * TILE + 4, 0], 1.0)
        assert sorted(entry.state.tiles) == [(0, 2), (2, 0)]
        assert entry.state.tiles[(0, 2)].shape == (TILE, 5)  # the edge tile is cut to the grid
        expected = np.full((3 * TILE, 2 * TILE + 5), 1.5, dtype=np.float32)
        expected[0, 2 * TILE + 4] = expected[2 * TILE + 3, 0] = 2.5
        np.testing.assert_array_equal(store.read("a"), expected)


@pytest.mark.usefixtures("tile_dict_backend")
def test_cells_read_back_exactly_in_an_int64_grid() -> None:
    # The backend has no point fast path: get_cells reads cell by cell, in the grid's own dtype
    # (2**53 + 1 has no float64).
    big = 2**53 + 1
    with build_store(BACKEND_NAME, MemmapConfig(backend=BACKEND_NAME), namespace="cells") as store:
        store.create("g", (3, 3), dtype="int64")
        store.add_at("g", 1, 2, big)
        values = store.get_cells("g", [1, 0, 5], [2, 0, 5])
        assert values.dtype == np.int64 and values.tolist() == [big, 0, 0]
