"""CoreSuite: create, write, fill, scale, points, windows and lifecycle, checked through ``read``."""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Callable

import numpy as np
import pytest

from farm_grids import (
    GridExistsError,
    GridInfo,
    GridNotFoundError,
    GridStore,
    InvalidGridSpecError,
    StoreClosedError,
    plan_windows,
)

from farm_grids.testing.references import ALL_DTYPES, naive_window, random_grid


class CoreSuite:
    """What every backend does with its grids' values; needs the ``store`` and ``grid`` fixtures."""

    # -- create / has / get / info / names ----------------------------------------------
    @pytest.mark.parametrize("dtype", ALL_DTYPES)
    def test_create_with_dtype_and_fill(self, store: GridStore, dtype: str) -> None:
        store.create("a", (5, 3), dtype=dtype, fill=7.0)
        arr = store.read("a")
        assert arr.dtype == np.dtype(dtype)
        assert (arr == 7).all()
        assert store.info("a").dtype == dtype

    def test_has_contains_names_and_iter_follow_creation_order(self, store: GridStore) -> None:
        assert store.names() == [] and not store.has("b")
        for name in ("b", "a", "c"):
            store.create(name, (2, 2))
        assert store.names() == ["b", "a", "c"]
        assert list(store) == ["b", "a", "c"]
        assert store.has("a") and "a" in store and not store.has("z") and "z" not in store

    def test_info_describes_the_grid(self, store: GridStore) -> None:
        store.create("a", (4, 9), dtype="int16")
        info = store.info("a")
        assert isinstance(info, GridInfo)
        assert (info.name, info.shape, info.dtype) == ("a", (4, 9), "int16")
        assert info.mode == "w+" and info.writable
        assert info.backend == store.backend
        assert info.nbytes == 4 * 9 * 2
        assert info.file_backed == (info.path is not None)
        # Frozen: a caller cannot corrupt the store's record of a grid.
        with pytest.raises(dataclasses.FrozenInstanceError):
            info.shape = (1, 1)  # type: ignore[misc]

    def test_total_size_bytes_sums_every_open_grid(self, store: GridStore) -> None:
        assert store.total_size_bytes() == 0
        store.create("a", (10, 10), dtype="float64")
        store.create("b", (3, 5), dtype="uint8")
        assert store.total_size_bytes() == 800 + 15
        store.close("a", delete_file=True)
        assert store.total_size_bytes() == 15

    # -- in-place writes ----------------------------------------------------------------
    def test_write_replaces_every_value_and_casts(self, store: GridStore) -> None:
        store.create("a", (2, 3), dtype="int16")
        store.write("a", [[1.9, -2.9, 3.0], [4, 5, 6]])
        np.testing.assert_array_equal(store.read("a"), [[1, -2, 3], [4, 5, 6]])

    def test_fill_whole_and_region(self, store: GridStore, grid: np.ndarray) -> None:
        store.fill("g", 2.5, region=(slice(1, 3), slice(4, None)))
        expected = grid.copy()
        expected[1:3, 4:] = 2.5
        np.testing.assert_array_equal(store.read("g"), expected)
        store.fill("g", -1.0)
        assert (store.read("g") == -1.0).all()

    def test_scale_whole_and_region(self, store: GridStore, grid: np.ndarray) -> None:
        store.scale("g", 0.5, region=(slice(0, 2), slice(None)))
        expected = grid.copy()
        expected[0:2] *= 0.5
        np.testing.assert_array_equal(store.read("g"), expected)
        store.scale("g", 3.0)
        np.testing.assert_array_equal(store.read("g"), expected * 3.0)

    def test_scale_multiplies_in_the_grid_dtype(self, store: GridStore, grid: np.ndarray) -> None:
        # 0.9 has no exact float32: every backend rounds the product once, in float32 (as numpy does in
        # place), never through float64 first; on these values the two differ in 16 of 42 cells.
        store.scale("g", 0.9)
        expected = grid.copy()
        np.multiply(expected, 0.9, out=expected, casting="unsafe")
        assert not np.array_equal(expected, (grid.astype(np.float64) * 0.9).astype(np.float32))
        np.testing.assert_array_equal(store.read("g"), expected)

    def test_scale_of_an_integer_grid_truncates_in_place(self, store: GridStore) -> None:
        store.create("a", (1, 3), dtype="int32", fill=5)
        store.scale("a", 0.5)
        assert store.read("a").dtype == np.int32
        np.testing.assert_array_equal(store.read("a"), [[2, 2, 2]])

    def test_add_at_accumulates_in_one_cell(self, store: GridStore, grid: np.ndarray) -> None:
        store.add_at("g", 5, 6, 1.5)
        store.add_at("g", 5, 6, 1.5)
        expected = grid.copy()
        expected[5, 6] += 3.0
        np.testing.assert_array_equal(store.read("g"), expected)

    def test_add_many_accumulates_duplicates(self, store: GridStore) -> None:
        store.create("a", (4, 5), fill=1.0)
        count = store.add_many("a", [1, 1, 2], [3, 3, 0], [1.0, 2.0, 5.0])
        assert count == 3
        expected = np.ones((4, 5), dtype=np.float32)
        expected[1, 3] += 3.0
        expected[2, 0] += 5.0
        np.testing.assert_array_equal(store.read("a"), expected)

    def test_add_many_broadcasts_a_scalar_value(self, store: GridStore) -> None:
        store.create("a", (3, 3))
        assert store.add_many("a", np.array([0, 2, 2]), np.array([0, 1, 1]), 0.5) == 3
        assert store.read("a")[0, 0] == 0.5 and store.read("a")[2, 1] == 1.0

    def test_add_many_without_accumulate_sets_and_last_wins(self, store: GridStore) -> None:
        store.create("a", (3, 3), fill=10.0)
        count = store.add_many("a", [1, 1, 1, 0], [1, 1, 1, 2], [4.0, 8.0, 6.0, 2.0], accumulate=False)
        assert count == 4
        expected = np.full((3, 3), 10.0, dtype=np.float32)
        expected[1, 1] = 6.0  # the last of the three duplicates, not their sum or the old value
        expected[0, 2] = 2.0
        np.testing.assert_array_equal(store.read("a"), expected)

    def test_add_many_clip_max_caps_only_touched_cells(self, store: GridStore) -> None:
        store.create("a", (3, 3), fill=10.0)  # untouched cells already exceed the cap
        store.add_many("a", [0, 0, 2], [0, 0, 2], [1.0, 1.0, -9.5], clip_max=5.0)
        expected = np.full((3, 3), 10.0, dtype=np.float32)
        expected[0, 0] = 5.0
        expected[2, 2] = 0.5
        np.testing.assert_array_equal(store.read("a"), expected)

    def test_add_many_drops_out_of_bounds_points_and_counts_the_rest(self, store: GridStore) -> None:
        store.create("a", (4, 6))
        ys = [-1, 0, 4, 0, 2, 3, 100]
        xs = [0, -1, 0, 6, 2, 5, -100]
        assert store.add_many("a", ys, xs, [1, 2, 3, 4, 5, 6, 7]) == 2
        expected = np.zeros((4, 6), dtype=np.float32)
        expected[2, 2], expected[3, 5] = 5.0, 6.0
        np.testing.assert_array_equal(store.read("a"), expected)

    def test_add_many_with_no_points_changes_nothing(self, store: GridStore, grid: np.ndarray) -> None:
        assert store.add_many("g", [], [], []) == 0
        assert store.add_many("g", [-5], [-5], 1.0) == 0
        np.testing.assert_array_equal(store.read("g"), grid)

    # -- reads --------------------------------------------------------------------------
    @pytest.mark.parametrize(
        "bounds",
        [(0, 6, 0, 7), (1, 4, 2, 5), (-2, 3, -1, 9), (4, 10, 5, 12), (-9, -3, 0, 7),
         (0, 6, 7, 12), (3, 3, 0, 7), (4, 2, 0, 7), (0, 6, 5, 1)],
    )  # fmt: skip
    def test_get_window_matches_the_cellwise_definition(
        self, store: GridStore, grid: np.ndarray, bounds: tuple[int, int, int, int]
    ) -> None:
        window = store.get_window("g", *bounds)
        assert window.dtype == np.float32
        np.testing.assert_array_equal(window, naive_window(grid, *bounds))

    def test_get_window_out_dtype_and_normalize_by(self, store: GridStore, grid: np.ndarray) -> None:
        window = store.get_window("g", -1, 2, 5, 9, out_dtype=np.float64, normalize_by=4.0)
        assert window.dtype == np.float64
        np.testing.assert_array_equal(window, naive_window(grid, -1, 2, 5, 9, np.float64) / 4.0)

    @pytest.mark.parametrize("bounds", [(1, 4, 2, 5), (-2, 3, -1, 9), (10, 12, 10, 12), (0, 6, 0, 7)])
    def test_mutating_a_window_never_changes_the_store(
        self, store: GridStore, grid: np.ndarray, bounds: tuple[int, int, int, int]
    ) -> None:
        window = store.get_window("g", *bounds)
        window[...] = -99.0
        np.testing.assert_array_equal(store.read("g"), grid)

    @pytest.mark.parametrize(
        ("ys", "xs", "radius"),
        [([2, 3], [3, 3], 1), ([0, 5, 2], [0, 6, 3], 2), ([-4], [20], 1), ([3], [3], 0)],
        ids=["interior", "edges", "outside", "radius0"],
    )
    def test_get_windows_copies_and_never_aliases_the_store(
        self, store: GridStore, grid: np.ndarray, ys: list[int], xs: list[int], radius: int
    ) -> None:
        windows = store.get_windows("g", ys, xs, radius)
        side = 2 * radius + 1
        assert windows.shape == (len(ys), side, side) and windows.dtype == np.float32
        for k, (y, x) in enumerate(zip(ys, xs)):
            np.testing.assert_array_equal(
                windows[k], naive_window(grid, y - radius, y + radius + 1, x - radius, x + radius + 1)
            )
        windows[...] = -99.0
        np.testing.assert_array_equal(store.read("g"), grid)

    def test_get_windows_of_no_centres_is_empty(self, store: GridStore, grid: np.ndarray) -> None:
        windows = store.get_windows("g", [], [], 3)
        assert windows.shape == (0, 7, 7) and windows.dtype == np.float32

    def test_get_windows_fills_a_reused_out_buffer(self, store: GridStore, grid: np.ndarray) -> None:
        out = np.full((3, 3, 3), 1234.0, dtype=np.float32)  # garbage must be overwritten
        result = store.get_windows("g", [0, 3, 9], [0, 3, 9], 1, out=out, normalize_by=2.0)
        assert result is out
        for k, c in enumerate([0, 3, 9]):
            np.testing.assert_array_equal(out[k], naive_window(grid, c - 1, c + 2, c - 1, c + 2) / 2.0)

    def test_get_windows_into_a_channel_of_an_observation_buffer(
        self, store: GridStore, grid: np.ndarray
    ) -> None:
        big = np.full((2, 3, 5, 5), 7.0, dtype=np.float32)
        store.get_windows("g", [0, 3], [6, 3], 2, out=big[:, 1])
        for k, (y, x) in enumerate([(0, 6), (3, 3)]):
            np.testing.assert_array_equal(big[k, 1], naive_window(grid, y - 2, y + 3, x - 2, x + 3))
        assert (big[:, 0] == 7.0).all() and (big[:, 2] == 7.0).all()

    def test_get_planned_windows_equals_get_windows_for_every_grid(
        self, store: GridStore, grid: np.ndarray
    ) -> None:
        store.create("twice", (6, 7), dtype="int16")
        store.write("twice", grid.astype(np.int16) * 2)
        ys, xs = [0, 3, 5, -3], [0, 3, 6, 2]
        plan = plan_windows((6, 7), ys, xs, 2)
        for name in ("g", "twice"):
            np.testing.assert_array_equal(
                store.get_planned_windows(name, plan), store.get_windows(name, ys, xs, 2)
            )
        out = np.zeros((4, 5, 5), dtype=np.float32)
        assert store.get_planned_windows("g", plan, out=out, normalize_by=2.0) is out
        np.testing.assert_array_equal(out, store.get_windows("g", ys, xs, 2) / 2.0)
        with pytest.raises(InvalidGridSpecError, match=re.escape("(7, 6)")):
            store.get_planned_windows("g", plan_windows((7, 6), ys, xs, 2))

    # -- lifecycle ----------------------------------------------------------------------
    def test_flush_one_or_all(self, store: GridStore, grid: np.ndarray) -> None:
        store.create("h", (2, 2), fill=1.0)
        store.flush("g")
        store.flush()
        np.testing.assert_array_equal(store.read("g"), grid)
        with pytest.raises(GridNotFoundError, match="nope"):
            store.flush("nope")

    def test_close_one_grid_keeps_the_others(self, store: GridStore, grid: np.ndarray) -> None:
        store.create("h", (2, 2), fill=3.0)
        store.close("h", delete_file=True)
        assert not store.has("h") and store.names() == ["g"]
        with pytest.raises(GridNotFoundError, match="'h'"):
            store.get("h")
        with pytest.raises(GridNotFoundError, match="'h'"):
            store.close("h")
        np.testing.assert_array_equal(store.read("g"), grid)
        store.create("h", (3, 3))  # a deleted name is free again
        assert not store.read("h").any()

    def test_close_all_closes_the_store_and_is_idempotent(self, store: GridStore, grid: np.ndarray) -> None:
        store.close_all(delete_files=True)
        assert store.closed and store.names() == []
        store.close_all(delete_files=True)
        assert store.closed

    def test_context_manager_closes_on_exit(self, store: GridStore) -> None:
        with store as entered:
            assert entered is store
            store.create("a", (2, 2))
        assert store.closed

    def test_context_manager_closes_when_the_body_raises(self, store: GridStore) -> None:
        with pytest.raises(RuntimeError, match="boom"):
            with store:
                store.create("a", (2, 2))
                raise RuntimeError("boom")
        assert store.closed

    CLOSED_STORE_CALLS: dict[str, Callable[[GridStore], Any]] = {
        "create": lambda s: s.create("new", (2, 2)),
        "get": lambda s: s.get("g"),
        "read": lambda s: s.read("g"),
        "get_cells": lambda s: s.get_cells("g", [0], [0]),
        "scale_tiles": lambda s: s.scale_tiles("g", np.ones((1, 1), dtype=bool), 8, 0.5),
        "info": lambda s: s.info("g"),
        "write": lambda s: s.write("g", np.zeros((6, 7))),
        "fill": lambda s: s.fill("g", 1.0),
        "scale": lambda s: s.scale("g", 2.0),
        "add_at": lambda s: s.add_at("g", 0, 0, 1.0),
        "add_many": lambda s: s.add_many("g", [0], [0], 1.0),
        "get_window": lambda s: s.get_window("g", 0, 2, 0, 2),
        "get_windows": lambda s: s.get_windows("g", [1], [1], 1),
        "get_planned_windows": lambda s: s.get_planned_windows("g", plan_windows((6, 7), [1], [1], 1)),
        "flush-one": lambda s: s.flush("g"),
        "flush-all": lambda s: s.flush(),
        "close": lambda s: s.close("g"),
    }

    @pytest.mark.parametrize("call", sorted(CLOSED_STORE_CALLS))
    def test_closed_store_rejects_every_operation(
        self, store: GridStore, grid: np.ndarray, call: str
    ) -> None:
        store.close_all()
        with pytest.raises(StoreClosedError, match="closed"):
            self.CLOSED_STORE_CALLS[call](store)

    def test_closed_store_error_is_a_value_error(self, store: GridStore) -> None:
        store.close_all()
        with pytest.raises(ValueError):
            store.read("anything")

    # -- errors on an open store (the full table is BadInputSuite) ----------------------
    def test_duplicate_and_unknown_names_are_typed(self, store: GridStore, grid: np.ndarray) -> None:
        with pytest.raises(GridExistsError, match="'g'"):
            store.create("g", (6, 7))
        with pytest.raises(GridNotFoundError, match="'missing'") as raised:
            store.get_window("missing", 0, 1, 0, 1)
        assert isinstance(raised.value, KeyError)

    def test_add_at_outside_the_grid_raises_and_writes_nothing(
        self, store: GridStore, grid: np.ndarray
    ) -> None:
        with pytest.raises(InvalidGridSpecError, match=r"\(6, 0\)"):
            store.add_at("g", 6, 0, 1.0)
        np.testing.assert_array_equal(store.read("g"), grid)

    @pytest.mark.parametrize("dtype", ALL_DTYPES)
    def test_write_then_read_round_trips_every_dtype(self, store: GridStore, dtype: str) -> None:
        values = random_grid((9, 4), dtype, seed=3)
        store.create("a", (9, 4), dtype=dtype)
        store.write("a", values)
        np.testing.assert_array_equal(store.read("a"), values)
        np.testing.assert_array_equal(
            store.get_window("a", 0, 9, 0, 4, out_dtype=np.float64), values.astype(np.float64)
        )
