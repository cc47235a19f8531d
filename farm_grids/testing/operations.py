"""OpsSuite: ``read``, ``get`` by layout, ``get_cells`` and ``scale_tiles`` (examples and properties)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from farm_grids import GridNotDenseError, GridStore, InvalidGridSpecError

from farm_grids.testing.references import ALL_DTYPES, fresh_name, random_grid
from farm_grids.testing.settings import PROPERTY_SETTINGS

# One store serves every example of a property: each example makes and deletes its own grid;
# every backend's class runs the same method (differing executors, harmless here).
OPS_SETTINGS = settings(PROPERTY_SETTINGS, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.differing_executors])


def scaled_tiles_reference(values: np.ndarray, mask: np.ndarray, size: int, factor: float,
                           floor: float) -> tuple[np.ndarray, np.ndarray]:
    """Each marked tile multiplied in the grid's dtype, then zeroed when its max |value| < floor."""
    expected = values.copy()
    faded = np.zeros(mask.shape, dtype=bool)
    typed = expected.dtype.type(factor) if expected.dtype.kind == "f" else factor
    for ty, tx in zip(*np.nonzero(mask)):
        tile = expected[ty * size : (ty + 1) * size, tx * size : (tx + 1) * size]
        tile[...] = (tile * typed).astype(expected.dtype)
        if floor > 0.0 and np.abs(tile).max() < floor:
            tile[...] = 0
            faded[ty, tx] = True
    return expected, faded


def ops_properties(ops_settings: settings) -> dict[str, Any]:
    """The suite's get_cells and scale_tiles properties under ``ops_settings``."""

    @ops_settings
    @given(data=st.data(), height=st.integers(1, 40), width=st.integers(1, 40), seed=st.integers(0, 2**32 - 1))
    def test_get_cells_equals_indexing_a_zero_padded_read(
        self, store: GridStore, data: st.DataObject, height: int, width: int, seed: int
    ) -> None:
        values = random_grid((height, width), "float32", seed)
        count = data.draw(st.integers(0, 30), label="count")
        ys = data.draw(st.lists(st.integers(-2, height + 1), min_size=count, max_size=count), label="ys")
        xs = data.draw(st.lists(st.integers(-2, width + 1), min_size=count, max_size=count), label="xs")
        name = fresh_name()
        store.create(name, (height, width))
        try:
            store.write(name, values)
            padded = np.pad(store.read(name), 2)
            expected = padded[np.array(ys, dtype=int) + 2, np.array(xs, dtype=int) + 2]
            np.testing.assert_array_equal(store.get_cells(name, ys, xs), expected)
        finally:
            store.close(name, delete_file=True)

    @ops_settings
    @given(
        data=st.data(),
        height=st.integers(1, 40),
        width=st.integers(1, 40),
        size=st.sampled_from([1, 3, 8, 16, 17]),
        factor=st.sampled_from([0.0, 0.5, 0.97, 1.5, -2.0]),
        floor=st.sampled_from([0.0, 0.3, 50.0]),
        dtype=st.sampled_from(["float32", "float64", "int32"]),
        seed=st.integers(0, 2**32 - 1),
    )
    def test_scale_tiles_equals_multiplying_the_marked_tiles(
        self, store: GridStore, data: st.DataObject, height: int, width: int, size: int,
        factor: float, floor: float, dtype: str, seed: int,
    ) -> None:
        values = (random_grid((height, width), "float32", seed) / 100).astype(dtype)
        tiles = (-(-height // size), -(-width // size))
        mask = np.array(data.draw(st.lists(st.booleans(), min_size=tiles[0] * tiles[1],
                                           max_size=tiles[0] * tiles[1]), label="mask")).reshape(tiles)
        name = fresh_name()
        store.create(name, (height, width), dtype=dtype)
        try:
            store.write(name, values)
            faded = store.scale_tiles(name, mask, size, factor, floor=floor)
            expected, reported = scaled_tiles_reference(values, mask, size, factor, floor)
            np.testing.assert_array_equal(faded, reported)
            np.testing.assert_array_equal(store.read(name), expected)
        finally:
            store.close(name, delete_file=True)

    tests = (test_get_cells_equals_indexing_a_zero_padded_read, test_scale_tiles_equals_multiplying_the_marked_tiles)
    return {test.__name__: test for test in tests}


class OpsSuite:
    """Operations the contract v2 added, and what ``get`` promises on each layout."""

    locals().update(ops_properties(OPS_SETTINGS))  # a slow backend re-binds them with fewer examples

    # -- read -----------------------------------------------------------------------------
    @pytest.mark.parametrize("dtype", ALL_DTYPES)
    def test_read_is_a_fresh_copy_in_the_grids_dtype(self, store: GridStore, dtype: str) -> None:
        values = random_grid((19, 35), dtype, seed=5)  # more than one 16x16 tile each way
        store.create("a", values.shape, dtype=dtype)
        store.write("a", values)
        first = store.read("a")
        assert type(first) is np.ndarray and first.dtype == np.dtype(dtype) and first.flags.c_contiguous
        np.testing.assert_array_equal(first, values)
        first[...] = 0
        second = store.read("a")
        np.testing.assert_array_equal(second, values)
        assert not np.shares_memory(first, second)

    def test_read_of_a_fresh_grid_is_its_fill(self, store: GridStore) -> None:
        store.create("a", (33, 17), dtype="int16", fill=-4)
        np.testing.assert_array_equal(store.read("a"), np.full((33, 17), -4, dtype=np.int16))

    # -- get, by layout -------------------------------------------------------------------
    def test_rows_layout_get_shares_memory_with_the_store(self, store: GridStore) -> None:
        if store.layout != "rows":
            pytest.skip(f"layout {store.layout!r}: get() need not be the grid's own array")
        created = store.create("a", (3, 4))
        assert type(created) is np.ndarray and created.shape == (3, 4) and created.dtype == np.float32
        got = store.get("a")
        assert type(got) is np.ndarray and np.shares_memory(created, got)
        got[1, 2] = 5.0  # a store test may write through get(): it proves the memory is the grid's
        assert store.get_window("a", 1, 2, 2, 3)[0, 0] == 5.0
        assert store.read("a")[1, 2] == 5.0
        assert not np.shares_memory(store.read("a"), got)

    def test_other_layouts_refuse_get_or_give_a_detached_copy(self, store: GridStore, grid: np.ndarray) -> None:
        if store.layout == "rows":
            pytest.skip("a rows-layout store's get() is its array (the test above)")
        try:
            dense = store.get("g")
        except GridNotDenseError as refused:
            assert isinstance(refused, TypeError) and "read()" in str(refused)
            assert store.create("h", (2, 2)) is None  # create returns get(), which there is none of
            return
        np.testing.assert_array_equal(dense, grid)
        if dense.flags.writeable:
            dense[...] = -1.0
        np.testing.assert_array_equal(store.read("g"), grid)

    # -- get_cells ------------------------------------------------------------------------
    def test_get_cells_reads_inside_cells_and_zero_outside(self, store: GridStore, grid: np.ndarray) -> None:
        ys = [0, 5, 2, -1, 6, 3, 0, 100, 5]
        xs = [0, 6, 3, 0, 0, -1, 7, -100, 6]
        cells = store.get_cells("g", ys, xs)
        assert cells.dtype == np.float32 and cells.shape == (9,)
        expected = [grid[0, 0], grid[5, 6], grid[2, 3], 0, 0, 0, 0, 0, grid[5, 6]]
        np.testing.assert_array_equal(cells, np.array(expected, dtype=np.float32))
        assert store.get_cells("g", [], []).shape == (0,)

    @pytest.mark.parametrize("dtype", ["int16", "uint8", "float64"])
    def test_get_cells_keeps_the_grids_dtype(self, store: GridStore, dtype: str) -> None:
        values = random_grid((20, 18), dtype, seed=9)
        store.create("a", values.shape, dtype=dtype, fill=3)
        store.write("a", values)
        cells = store.get_cells("a", [19, 0, 17, 20], [17, 0, 16, 0])
        assert cells.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(cells, np.array([values[19, 17], values[0, 0], values[17, 16], 0], dtype))

    def test_scale_tiles_multiplies_exactly_the_marked_tiles(self, store: GridStore) -> None:
        values = random_grid((21, 30), "float32", seed=11)  # 3x4 tiles of 8, cut at both far edges
        store.create("a", values.shape)
        store.write("a", values)
        mask = np.zeros((3, 4), dtype=bool)
        mask[0, 0] = mask[0, 1] = mask[1, 3] = mask[2, 3] = mask[2, 0] = True  # a run, a column, corners
        faded = store.scale_tiles("a", mask, 8, 0.5)
        expected, no_fade = scaled_tiles_reference(values, mask, 8, 0.5, 0.0)
        assert faded.dtype == np.bool_ and faded.shape == (3, 4) and not faded.any() and not no_fade.any()
        np.testing.assert_array_equal(store.read("a"), expected)
        assert not np.array_equal(expected, values)

    def test_scale_tiles_floor_zeroes_and_reports_faded_tiles(self, store: GridStore) -> None:
        store.create("a", (16, 24))
        values = np.zeros((16, 24), dtype=np.float32)
        values[0:8, 0:8] = 0.05  # fades at factor 0.5, floor 0.1
        values[0:8, 8:16] = 0.05
        values[3, 12] = 0.5  # ... but one cell keeps this tile alive
        values[8:16, 16:24] = -0.15  # |value| counts: -0.075 fades
        values[8:16, 0:8] = 0.05  # not marked: never scaled, never faded
        store.write("a", values)
        mask = np.array([[True, True, False], [False, False, True]])
        faded = store.scale_tiles("a", mask, 8, 0.5, floor=0.1)
        np.testing.assert_array_equal(faded, [[True, False, False], [False, False, True]])
        expected, reported = scaled_tiles_reference(values, mask, 8, 0.5, 0.1)
        np.testing.assert_array_equal(faded, reported)
        np.testing.assert_array_equal(store.read("a"), expected)
        assert (store.read("a")[8:16, 0:8] == np.float32(0.05)).all()

    def test_scale_tiles_of_an_integer_grid_truncates(self, store: GridStore) -> None:
        store.create("a", (4, 6), dtype="int32", fill=5)
        faded = store.scale_tiles("a", np.array([[False, True]]), 4, 0.5, floor=1.0)
        expected = np.full((4, 6), 5, dtype=np.int32)
        expected[:, 4:] = 2
        np.testing.assert_array_equal(store.read("a"), expected)
        assert not faded.any()

    def test_scale_tiles_with_no_marked_tile_changes_nothing(self, store: GridStore, grid: np.ndarray) -> None:
        faded = store.scale_tiles("g", np.zeros((2, 2), dtype=bool), 4, 0.0, floor=100.0)
        assert faded.shape == (2, 2) and not faded.any()
        np.testing.assert_array_equal(store.read("g"), grid)

    def test_scale_tiles_refuses_a_mask_of_the_wrong_shape_and_writes_nothing(
        self, store: GridStore, grid: np.ndarray
    ) -> None:
        with pytest.raises(InvalidGridSpecError, match=r"\(2, 2\)"):
            store.scale_tiles("g", np.ones((2, 3), dtype=bool), 4, 0.5)
        np.testing.assert_array_equal(store.read("g"), grid)
