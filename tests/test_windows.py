"""Window kernels on bare arrays: read_window / read_windows against a cell-by-cell definition."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from farm_grids import (
    InvalidGridSpecError,
    WindowPlan,
    plan_windows,
    read_planned_windows,
    read_window,
    read_windows,
)
from farm_grids.windows import retarget_plan

# Same rule as tests/stores/support.py: >= 2,000 examples when CI is set, a few hundred locally,
# 20 per property in a mutation run (FARM_MUTATION=1, see TESTING.md), where the edge-exact
# draws and @examples still reach every boundary.
_IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
_IN_MUTATION_RUN = os.environ.get("FARM_MUTATION", "") == "1"
WINDOW_SETTINGS = settings(max_examples=20 if _IN_MUTATION_RUN else 2000 if _IN_CI else 200, deadline=None,
                           database=None if _IN_MUTATION_RUN else settings.default.database)


def naive(grid: np.ndarray, y0: int, y1: int, x0: int, x1: int, dtype: object = np.float32) -> np.ndarray:
    """The definition: cell (i, j) is grid[y0 + i, x0 + j] when that cell exists, else zero."""
    out = np.zeros((max(0, y1 - y0), max(0, x1 - x0)), dtype=dtype)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            if 0 <= y0 + i < grid.shape[0] and 0 <= x0 + j < grid.shape[1]:
                out[i, j] = grid[y0 + i, x0 + j]
    return out


def naive_square(
    grid: np.ndarray, ys: list[int], xs: list[int], r: int, dtype: object = np.float32
) -> np.ndarray:
    side = 2 * r + 1
    windows = [naive(grid, y - r, y + r + 1, x - r, x + r + 1, dtype) for y, x in zip(ys, xs)]
    return np.stack(windows) if windows else np.zeros((0, side, side), dtype=dtype)


GRID = np.arange(1, 8 * 11 + 1, dtype=np.float32).reshape(8, 11)


# -- read_window --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "bounds",
    [(0, 8, 0, 11), (2, 5, 3, 9), (-3, 2, -4, 3), (6, 12, 9, 15), (-5, 0, 0, 11), (8, 10, 0, 11),
     (0, 8, -6, -1), (3, 3, 2, 6), (5, 1, 2, 6), (2, 6, 9, 4), (-20, 30, -20, 30)],
)  # fmt: skip
def test_read_window_matches_the_definition(bounds: tuple[int, int, int, int]) -> None:
    result = read_window(GRID, *bounds)
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result, naive(GRID, *bounds))


def test_read_window_on_every_combination_of_edge_bounds() -> None:
    """Each bound at -1, 0, 1, size - 1, size and size + 1: every limit of the in-bounds shortcut, every run."""
    height, width = GRID.shape
    rows = sorted({-1, 0, 1, height - 1, height, height + 1})
    cols = sorted({-1, 0, 1, width - 1, width, width + 1})
    for y0 in rows:
        for y1 in rows:
            for x0 in cols:
                for x1 in cols:
                    result = read_window(GRID, y0, y1, x0, x1)
                    np.testing.assert_array_equal(result, naive(GRID, y0, y1, x0, x1), err_msg=f"{(y0, y1, x0, x1)}")


@pytest.mark.parametrize("position", range(4))
@pytest.mark.parametrize("bad", [True, 1.0, "1"], ids=["bool", "float", "str"])
def test_read_window_refuses_a_non_integer_bound_by_name(position: int, bad: object) -> None:
    bounds: list[object] = [0, 2, 0, 2]
    bounds[position] = bad
    label = ("y0", "y1", "x0", "x1")[position]
    with pytest.raises(InvalidGridSpecError, match=re.escape(f"{label} must be an integer, got {bad!r}")):
        read_window(GRID, *bounds)


def test_read_window_in_bounds_is_a_fresh_writable_copy() -> None:
    grid = GRID.copy()
    grid.flags.writeable = False  # a read-only source (like mode 'r') still gives a usable result
    result = read_window(grid, 1, 4, 2, 6)
    assert result.flags.writeable and result.flags.owndata
    assert not np.shares_memory(result, grid)
    result[...] = 0
    np.testing.assert_array_equal(grid, GRID)


@pytest.mark.parametrize("out_dtype", [np.float32, np.float64, np.int64])
def test_read_window_out_dtype_and_normalisation(out_dtype: type) -> None:
    grid = np.arange(12, dtype=np.int16).reshape(3, 4) * 3
    result = read_window(grid, -1, 2, 1, 6, out_dtype=out_dtype)
    assert result.dtype == np.dtype(out_dtype)
    np.testing.assert_array_equal(result, naive(grid, -1, 2, 1, 6, out_dtype))
    halved = read_window(grid.astype(np.float64), 0, 3, 0, 4, normalize_by=2, out_dtype=np.float64)
    np.testing.assert_array_equal(halved, grid / 2.0)


@pytest.mark.parametrize("layout", ["fortran", "strided", "transposed"])
def test_kernels_accept_non_contiguous_grids(layout: str) -> None:
    base = np.arange(30 * 40, dtype=np.float64).reshape(30, 40)
    grid = {"fortran": np.asfortranarray(base), "strided": base[::2, ::3], "transposed": base.T}[layout]
    np.testing.assert_array_equal(read_window(grid, -2, 7, 3, 12), naive(grid, -2, 7, 3, 12))
    ys, xs = [0, 5, 7, grid.shape[0] - 1], [0, 6, grid.shape[1] + 1, 3]
    np.testing.assert_array_equal(read_windows(grid, ys, xs, 2), naive_square(grid, ys, xs, 2))


def test_kernels_on_an_np_memmap_return_plain_fresh_arrays(tmp_path: Path) -> None:
    path = tmp_path / "grid.dat"
    GRID.tofile(path)
    mapped = np.memmap(path, dtype=np.float32, mode="r", shape=GRID.shape)
    window = read_window(mapped, 0, 8, 0, 11)
    windows = read_windows(mapped, [3, 4], [3, 5], 2)
    for result in (window, windows):
        assert type(result) is np.ndarray and result.flags.writeable
        assert not np.shares_memory(result, mapped)
    np.testing.assert_array_equal(window, GRID)
    np.testing.assert_array_equal(windows, naive_square(GRID, [3, 4], [3, 5], 2))
    del mapped


# -- read_windows -------------------------------------------------------------------------
@pytest.mark.parametrize("index_dtype", [np.int8, np.uint16, np.int32, np.int64, np.uint64])
def test_read_windows_accepts_any_integer_index_dtype(index_dtype: type) -> None:
    ys, xs = np.array([0, 3, 7], dtype=index_dtype), np.array([10, 5, 0], dtype=index_dtype)
    np.testing.assert_array_equal(read_windows(GRID, ys, xs, 1), naive_square(GRID, [0, 3, 7], [10, 5, 0], 1))


def test_read_windows_scalar_centre_is_one_window() -> None:
    result = read_windows(GRID, 4, 5, 3)
    np.testing.assert_array_equal(result, naive_square(GRID, [4], [5], 3))


def test_read_windows_radius_wider_than_the_grid_pads_every_window() -> None:
    result = read_windows(GRID, [0, 4], [0, 5], 10)
    assert result.shape == (2, 21, 21)
    np.testing.assert_array_equal(result, naive_square(GRID, [0, 4], [0, 5], 10))
    assert result[0].sum() == GRID[:11, :11].sum()


def test_read_windows_fast_path_result_is_fresh() -> None:
    grid = GRID.copy()
    result = read_windows(grid, [3, 4], [4, 5], 2)  # all interior, dtype already float32
    assert result.flags.writeable and not np.shares_memory(result, grid)
    result[...] = -1
    np.testing.assert_array_equal(grid, GRID)


# Sizes straddle the gather chunk (1,024 windows today) and a small one, so a chunking
# off-by-one anywhere shows up.
@pytest.mark.parametrize("n", [1, 255, 256, 257, 1023, 1024, 1025, 2600])
def test_read_windows_into_out_across_chunk_boundaries(n: int) -> None:
    rng = np.random.default_rng(n)
    grid = rng.random((40, 50), dtype=np.float32)
    ys = rng.integers(-3, 43, size=n)
    xs = rng.integers(-3, 53, size=n)
    big = np.full((n, 4, 7, 7), np.nan, dtype=np.float32)
    result = read_windows(grid, ys, xs, 3, out=big[:, 3], normalize_by=4.0)
    assert np.shares_memory(result, big)
    expected = naive_square(grid, ys.tolist(), xs.tolist(), 3) / np.float32(4.0)
    np.testing.assert_array_equal(big[:, 3], expected)
    assert np.isnan(big[:, :3]).all()


def test_read_windows_out_dtype_float64() -> None:
    grid = np.arange(64, dtype=np.float64).reshape(8, 8) / 3
    out = np.empty((2, 3, 3), dtype=np.float64)
    assert read_windows(grid, [0, 4], [4, 4], 1, out=out, out_dtype=np.float64) is out
    np.testing.assert_array_equal(out, naive_square(grid, [0, 4], [4, 4], 1, np.float64))


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"out": [[[0.0]]]}, "list"),
        ({"out": np.zeros((2, 3, 3), np.float32)}, "(2, 3, 3)"),
        ({"out": np.zeros((1, 3, 3), np.float64)}, "float64"),
        ({"out": np.zeros((1, 3, 3), np.float32)}, None),
        ({"normalize_by": -1.0}, "-1.0"),
        ({"normalize_by": "2"}, "'2'"),
        ({"normalize_by": True}, "True"),
    ],
    ids=["out-list", "out-shape", "out-dtype", "out-ok", "norm-negative", "norm-string", "norm-bool"],
)
def test_read_windows_rejects_bad_out_and_normalizer(kwargs: dict, fragment: str | None) -> None:
    if fragment is None:  # control: a correct buffer is accepted
        read_windows(GRID, [1], [1], 1, **kwargs)
        return
    with pytest.raises(InvalidGridSpecError, match=re.escape(fragment)):
        read_windows(GRID, [1], [1], 1, **kwargs)


def test_read_windows_rejects_a_read_only_out_and_leaves_it_alone() -> None:
    out = np.full((1, 3, 3), 5.0, dtype=np.float32)
    out.flags.writeable = False
    with pytest.raises(InvalidGridSpecError, match="writeable"):
        read_windows(GRID, [1], [1], 1, out=out)
    assert (out == 5.0).all()


@pytest.mark.parametrize(
    ("ys", "xs", "fragment"),
    [([[1, 2]], [1, 2], "(1, 2)"), ([1.0], [1], "float64"), ([1, 2], [1], "2 and 1"), (["a"], ["b"], "<U1")],
    ids=["2-d", "floats", "lengths", "strings"],
)
def test_read_windows_rejects_bad_centres(ys: object, xs: object, fragment: str) -> None:
    with pytest.raises(InvalidGridSpecError, match=re.escape(fragment)) as raised:
        read_windows(GRID, ys, xs, 1)
    assert isinstance(raised.value, ValueError)


# -- window plans ---------------------------------------------------------------------------
def test_one_plan_reads_every_grid_of_its_shape() -> None:
    ys, xs = [0, 4, 7, 9], [10, 5, 0, -2]
    plan = plan_windows(GRID.shape, ys, xs, 2)
    assert isinstance(plan, WindowPlan) and plan.count == 4 and plan.side == 5
    for grid in (GRID, GRID * 2, GRID.astype(np.int32)):
        np.testing.assert_array_equal(read_planned_windows(grid, plan), read_windows(grid, ys, xs, 2))
    out = np.full((4, 5, 5), 8.0, dtype=np.float32)
    assert read_planned_windows(GRID, plan, out=out, normalize_by=2.0) is out
    np.testing.assert_array_equal(out, naive_square(GRID, ys, xs, 2) / 2.0)


def test_a_retargeted_plan_fills_only_its_rows() -> None:
    ys, xs = np.array([0, 4, 7, 9]), np.array([10, 5, 0, -2])  # edge and interior centres
    rows = np.array([5, 1, 3, 0])
    plan = retarget_plan(plan_windows(GRID.shape, ys, xs, 2), rows, 6)
    out = np.full((6, 5, 5), -1.0, dtype=np.float32)
    read_planned_windows(GRID, plan, out=out)
    np.testing.assert_array_equal(out[rows], naive_square(GRID, ys, xs, 2))
    np.testing.assert_array_equal(out[[2, 4]], -1.0)  # rows of no centre are left alone


def test_a_plan_with_edge_windows_fills_every_row_the_same_on_every_gather() -> None:
    # Interior and edge windows mixed, and a retargeted plan whose rows are all of out (permuted):
    # both gather every row in slices, each edge row padded afterwards.
    for ys, xs in ((np.array([4, 0, 7, 3, 9, 5]), np.array([5, 10, 0, 4, -2, 6])),
                   (np.array([0, 4, 9]), np.array([0, 5, 12]))):  # one interior window among edges
        n = ys.size
        plans = [plan_windows(GRID.shape, ys, xs, 2)]
        order = np.roll(np.arange(n), 1)
        plans.append(retarget_plan(plans[0], order, n))
        expected = naive_square(GRID, ys, xs, 2)
        for plan, rows in zip(plans, (np.arange(n), order)):
            for _ in range(2):  # the second gather reuses what the plan derived on the first
                out = np.full((n, 5, 5), -1.0, dtype=np.float32)
                read_planned_windows(GRID, plan, out=out)
                np.testing.assert_array_equal(out[rows], expected)
                fresh = read_planned_windows(GRID, plan)
                np.testing.assert_array_equal(fresh[rows], expected)


@pytest.mark.parametrize(("rows", "count"), [([0, 1], 4), ([0, 1, 2, 4], 4), ([0, -1, 2, 3], 4)],
                         ids=["too-few", "beyond-count", "negative"])
def test_retarget_plan_refuses_bad_rows(rows: list[int], count: int) -> None:
    plan = plan_windows(GRID.shape, [1, 2, 3, 4], [1, 2, 3, 4], 1)
    with pytest.raises(InvalidGridSpecError, match="rows must be 4 indices below 4"):
        retarget_plan(plan, np.array(rows), count)


def test_a_plan_for_another_shape_is_refused() -> None:
    plan = plan_windows((8, 12), [1], [1], 1)
    with pytest.raises(InvalidGridSpecError, match=re.escape("(8, 12)")):
        read_planned_windows(GRID, plan)


@pytest.mark.parametrize(
    ("ys", "xs", "radius", "fragment"),
    [([1, 2], [1], 1, "2 and 1"), ([1.5], [1], 1, "float64"), ([1], [1], -2, "-2")],
    ids=["lengths", "floats", "negative-radius"],
)
def test_plan_windows_validates_like_read_windows(ys: object, xs: object, radius: int, fragment: str) -> None:
    with pytest.raises(InvalidGridSpecError, match=re.escape(fragment)):
        plan_windows(GRID.shape, ys, xs, radius)


# -- properties ---------------------------------------------------------------------------
@st.composite
def grids(draw: st.DrawFn) -> np.ndarray:
    height, width = draw(st.integers(1, 64)), draw(st.integers(1, 64))
    dtype = draw(st.sampled_from(["float32", "float64", "int16", "uint8"]))
    seed = draw(st.integers(0, 2**32 - 1))
    grid = np.random.default_rng(seed).integers(-100, 100, size=(height, width)).astype(dtype)
    layout = draw(st.sampled_from(["c", "fortran", "reversed-rows"]))
    return {"c": grid, "fortran": np.asfortranarray(grid), "reversed-rows": grid[::-1]}[layout]


def edge_exact(height: int, width: int) -> st.SearchStrategy[int]:
    """Exactly on an edge of either axis (0, H, W, H + 1, W + 1, -1), drawn about half the time."""
    return st.sampled_from([0, height, width, height + 1, width + 1, -1])


@st.composite
def axis_bounds(draw: st.DrawFn, size: int, other: int) -> tuple[int, int]:
    """A start and stop along an axis of ``size``: each edge-exact or anywhere, or a stop relative to the start."""
    start = draw(st.one_of(edge_exact(size, other), st.integers(-size - 8, 2 * size + 8)))
    relative = st.integers(-4, size + 12).map(lambda extent: start + extent)
    return start, draw(st.one_of(edge_exact(size, other), relative))


@WINDOW_SETTINGS
@given(grid=grids(), data=st.data())
def test_read_window_property(grid: np.ndarray, data: st.DataObject) -> None:
    height, width = grid.shape
    y0, y1 = data.draw(axis_bounds(height, width), label="y0, y1")
    x0, x1 = data.draw(axis_bounds(width, height), label="x0, x1")
    result = read_window(grid, y0, y1, x0, x1)
    np.testing.assert_array_equal(result, naive(grid, y0, y1, x0, x1))
    assert result.dtype == np.float32 and not np.shares_memory(result, grid)


@WINDOW_SETTINGS
@given(grid=grids(), data=st.data())
def test_read_windows_property(grid: np.ndarray, data: st.DataObject) -> None:
    height, width = grid.shape
    r = data.draw(st.integers(0, 10))
    n = data.draw(st.integers(0, 20))
    ys = data.draw(st.lists(st.integers(-r - 2, height + r + 1), min_size=n, max_size=n))
    xs = data.draw(st.lists(st.integers(-r - 2, width + r + 1), min_size=n, max_size=n))
    use_out = data.draw(st.booleans())
    side = 2 * r + 1
    out = np.full((n, side, side), 99.0, dtype=np.float32) if use_out else None
    result = read_windows(grid, ys, xs, r, out=out)
    np.testing.assert_array_equal(result, naive_square(grid, ys, xs, r))
    assert result.dtype == np.float32 and not np.shares_memory(result, grid)
    planned = read_planned_windows(grid, plan_windows(grid.shape, ys, xs, r))
    np.testing.assert_array_equal(planned, result)


def test_a_window_plan_counts_its_float32_output_against_the_request_limit() -> None:
    from farm_grids import RequestTooLargeError
    from farm_grids.limits import request_limit

    # 10 windows of radius 1: 10 x 3 x 3 float32 cells = 360 bytes.
    ys = xs = np.arange(10)
    with request_limit(360):
        assert plan_windows((20, 20), ys, xs, 1).count == 10
    with request_limit(359), pytest.raises(RequestTooLargeError, match="10 windows of radius 1 needs 360 bytes"):
        plan_windows((20, 20), ys, xs, 1)


@pytest.mark.parametrize("shape", [(0, 5), (4, 0)])
def test_windows_of_an_empty_grid_are_all_zero_in_a_fresh_and_a_reused_out(shape: tuple[int, int]) -> None:
    grid = np.zeros(shape, dtype=np.float32)
    plan = plan_windows(shape, np.array([0, 3]), np.array([1, 2]), 1)
    np.testing.assert_array_equal(read_planned_windows(grid, plan), np.zeros((2, 3, 3)))
    out = np.full((2, 3, 3), 7.0, dtype=np.float32)  # stale values from an earlier tick
    read_planned_windows(grid, plan, out=out)
    np.testing.assert_array_equal(out, 0.0)
