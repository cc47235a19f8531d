"""WindowPropertySuite: hypothesis properties of get_window / get_windows / add_many, with edge-exact bounds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from farm_grids import GridStore, plan_windows

from farm_grids.testing.references import ALL_DTYPES, fresh_name, naive_window, padded_windows_reference, random_grid
from farm_grids.testing.settings import PROPERTY_SETTINGS, WINDOW_SETTINGS

# One store serves every example of a property: each example makes and deletes its own grid.
# Every backend's class runs the same method (differing executors): examples it saves for
# one backend only replay as extra examples on another.
_SHARED = [HealthCheck.function_scoped_fixture, HealthCheck.differing_executors]
WINDOWS = settings(WINDOW_SETTINGS, suppress_health_check=_SHARED)
PROPERTIES = settings(PROPERTY_SETTINGS, suppress_health_check=_SHARED)

sides = st.integers(min_value=1, max_value=64)
seeds = st.integers(min_value=0, max_value=2**32 - 1)
normalizers = st.one_of(st.none(), st.sampled_from([0.5, 3.0, 255.0]), st.floats(1e-3, 1e3))
grid_dtypes = st.one_of(st.just("float32"), st.sampled_from(ALL_DTYPES))


def edge_exact(size: int, other: int) -> st.SearchStrategy[int]:
    """A bound along an axis of ``size``: exactly on an edge (this axis's or the other's) or anywhere."""
    edges = st.sampled_from([0, size, other, size + 1, other + 1, -1])
    return st.one_of(edges, st.integers(min_value=-size - 12, max_value=2 * size + 12))


@st.composite
def axis_window(draw: st.DrawFn, size: int, other: int) -> tuple[int, int]:
    """A start and stop along one axis: on an edge, straddling, fully outside, empty or reversed."""
    start = draw(edge_exact(size, other))
    extent = st.one_of(st.integers(-6, 0), st.integers(1, size + 20)).map(lambda e: start + e)
    return start, draw(st.one_of(edge_exact(size, other), extent))


@st.composite
def near_edge_window(draw: st.DrawFn, height: int, width: int) -> tuple[int, int, int, int]:
    """An in-bounds window with one bound moved just past its edge: where an in-bounds test must say no."""
    y0 = draw(st.integers(0, height))
    y1 = draw(st.integers(y0, height))
    x0 = draw(st.integers(0, width))
    x1 = draw(st.integers(x0, width))
    bounds = [y0, y1, x0, x1]
    which = draw(st.integers(0, 3))
    size = height if which < 2 else width
    bounds[which] = draw(st.sampled_from([-1, size + 1]))
    return bounds[0], bounds[1], bounds[2], bounds[3]


@dataclass(frozen=True)
class WindowCase:
    """One get_window call: the grid it reads and the window it asks for."""

    height: int
    width: int
    dtype: str
    seed: int
    bounds: tuple[int, int, int, int]
    out_dtype: Any = np.float32
    norm: float | None = None


@st.composite
def window_cases(draw: st.DrawFn) -> WindowCase:
    """Half near an edge, half edge-exact or anywhere; mostly float32 in and out without a normaliser,
    the array backends' unchecked in-bounds path, so its every limit is hit in every run."""
    height, width = draw(sides, label="height"), draw(sides, label="width")
    if draw(st.booleans(), label="near an edge"):
        bounds = draw(near_edge_window(height, width), label="bounds")
    else:
        y0, y1 = draw(axis_window(height, width), label="y0, y1")
        x0, x1 = draw(axis_window(width, height), label="x0, x1")
        bounds = (y0, y1, x0, x1)
    seed = draw(seeds, label="seed")
    if draw(st.integers(0, 2), label="path") > 0:
        return WindowCase(height, width, "float32", seed, bounds)
    dtype = draw(st.sampled_from(ALL_DTYPES), label="dtype")
    out_dtype = draw(st.sampled_from([np.float32, np.float64]), label="out_dtype")
    return WindowCase(height, width, dtype, seed, bounds, out_dtype, draw(normalizers, label="normalize_by"))


def edge_bounds(size: int) -> list[int]:
    return sorted({-1, 0, 1, size - 1, size, size + 1})


def assert_matches(actual: np.ndarray, expected: np.ndarray, normalized: bool) -> None:
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    if normalized:
        # Dividing in the output dtype or in float64 then rounding are both fine: 1 ulp.
        rtol = 1e-6 if actual.dtype == np.float32 else 1e-14
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=0)
    else:
        np.testing.assert_array_equal(actual, expected)


def window_properties(windows: settings, properties: settings) -> dict[str, Any]:
    """The suite's window and add_many properties under ``windows`` / ``properties`` settings."""

    @windows
    @given(case=window_cases())
    # Just past the bottom or right edge, and a whole grid: the in-bounds shortcut's limits.
    @example(case=WindowCase(5, 7, "float32", 1, (0, 6, 0, 7)))
    @example(case=WindowCase(5, 7, "float32", 1, (2, 6, 1, 3)))
    @example(case=WindowCase(5, 7, "float32", 1, (0, 5, 0, 8)))
    @example(case=WindowCase(5, 7, "float32", 1, (-1, 5, 0, 7)))
    @example(case=WindowCase(5, 7, "float32", 1, (0, 5, -1, 7)))
    @example(case=WindowCase(5, 7, "float32", 1, (0, 5, 0, 7)))
    @example(case=WindowCase(7, 5, "float32", 2, (5, 7, 0, 5)))
    def test_get_window_equals_the_naive_zero_padded_reference(self, store: GridStore, case: WindowCase) -> None:
        values = random_grid((case.height, case.width), case.dtype, case.seed)
        name = fresh_name()
        store.create(name, values.shape, dtype=values.dtype)
        try:
            store.write(name, values)
            window = store.get_window(name, *case.bounds, normalize_by=case.norm, out_dtype=case.out_dtype)
            expected = naive_window(values, *case.bounds, case.out_dtype)
            if case.norm is not None:
                expected = (expected / case.norm).astype(case.out_dtype)
            assert_matches(window, expected, case.norm is not None)
            window[...] = 42  # a result is the caller's to mutate; the store must not see it
            np.testing.assert_array_equal(store.read(name), values)
        finally:
            store.close(name, delete_file=True)

    @windows
    @given(data=st.data(), height=sides, width=sides, dtype=grid_dtypes, seed=seeds)
    def test_get_windows_equals_stacked_get_window_and_the_padded_reference(
        self, store: GridStore, data: st.DataObject, height: int, width: int, dtype: str, seed: int
    ) -> None:
        values = random_grid((height, width), dtype, seed)
        radius = data.draw(st.integers(0, 10), label="radius")
        # Centres run past every edge (and well outside) so interior, edge and fully
        # outside windows all occur, often in one batch; edge-exact values hit every boundary.
        ys = data.draw(st.lists(st.one_of(st.sampled_from([0, height - 1, height, radius, height - radius - 1,
                                                            -1, -radius, height + radius]),
                                          st.integers(-radius - 3, height + radius + 2)), max_size=24), label="ys")
        xs = data.draw(
            st.lists(st.one_of(st.sampled_from([0, width - 1, width, radius, width - radius - 1, -1, -radius,
                                                width + radius]),
                               st.integers(-radius - 3, width + radius + 2)), min_size=len(ys), max_size=len(ys)),
            label="xs",
        )
        norm = data.draw(normalizers, label="normalize_by")
        out_kind = data.draw(st.sampled_from(["new", "buffer", "channel-view"]), label="out")
        side, count = 2 * radius + 1, len(ys)
        big = np.full((count, 3, side, side), -7.5, dtype=np.float32)
        out = {"new": None, "buffer": big[:, 0].copy(), "channel-view": big[:, 2]}[out_kind]
        name = fresh_name()
        store.create(name, values.shape, dtype=values.dtype)
        try:
            store.write(name, values)
            windows = store.get_windows(name, ys, xs, radius, normalize_by=norm, out=out)
            stacked = np.stack(
                [store.get_window(name, y - radius, y + radius + 1, x - radius, x + radius + 1, normalize_by=norm)
                 for y, x in zip(ys, xs)]
            ) if count else np.zeros((0, side, side), dtype=np.float32)
            assert_matches(windows, stacked, norm is not None)
            reference = padded_windows_reference(values, ys, xs, radius)
            if norm is not None:
                reference = reference / np.float32(norm)
            assert_matches(windows, reference, norm is not None)
            if out is not None:
                assert windows is out
            planned = store.get_planned_windows(name, plan_windows((height, width), ys, xs, radius), normalize_by=norm)
            np.testing.assert_array_equal(planned, windows)
            if out_kind == "channel-view":
                assert (big[:, :2] == -7.5).all()  # only channel 2 of the observation buffer may change
            windows[...] = 42
            np.testing.assert_array_equal(store.read(name), values)
        finally:
            store.close(name, delete_file=True)

    @properties
    @given(data=st.data(), height=st.integers(1, 12), width=st.integers(1, 12), seed=seeds)
    def test_add_many_equals_a_python_loop(
        self, store: GridStore, data: st.DataObject, height: int, width: int, seed: int
    ) -> None:
        dtype = data.draw(st.sampled_from(["float32", "float64", "int32"]), label="dtype")
        # Small integers keep every sum exact in each dtype, so the loop is an exact oracle.
        values = np.random.default_rng(seed).integers(-100, 100, size=(height, width)).astype(dtype)
        points = data.draw(
            st.lists(st.tuples(st.integers(-2, height + 1), st.integers(-2, width + 1), st.integers(-50, 50)),
                     max_size=30),
            label="points",
        )
        accumulate = data.draw(st.booleans(), label="accumulate")
        clip_max = data.draw(st.one_of(st.none(), st.integers(-20, 60)), label="clip_max")
        expected = values.astype(np.float64)
        touched: set[tuple[int, int]] = set()
        for y, x, v in points:
            if 0 <= y < height and 0 <= x < width:
                expected[y, x] = expected[y, x] + v if accumulate else v
                touched.add((y, x))
        for y, x in touched:
            if clip_max is not None:
                expected[y, x] = min(expected[y, x], clip_max)
        name = fresh_name()
        store.create(name, values.shape, dtype=values.dtype)
        try:
            store.write(name, values)
            count = store.add_many(name, [p[0] for p in points], [p[1] for p in points],
                                   [float(p[2]) for p in points], accumulate=accumulate, clip_max=clip_max)
            assert count == sum(1 for y, x, _ in points if 0 <= y < height and 0 <= x < width)
            np.testing.assert_array_equal(store.read(name), expected.astype(values.dtype))
        finally:
            store.close(name, delete_file=True)

    tests = (test_get_window_equals_the_naive_zero_padded_reference,
             test_get_windows_equals_stacked_get_window_and_the_padded_reference, test_add_many_equals_a_python_loop)
    return {test.__name__: test for test in tests}


class WindowPropertySuite:
    """Windows against independent references; the in-bounds shortcut's every edge is hit each run."""

    locals().update(window_properties(WINDOWS, PROPERTIES))  # a slow backend re-binds them with fewer examples


    @pytest.mark.parametrize("shape", [(5, 7), (7, 5), (1, 1), (16, 17)])
    def test_get_window_on_every_combination_of_edge_bounds(self, store: GridStore, shape: tuple[int, int]) -> None:
        height, width = shape
        values = random_grid(shape, "float32", seed=height * 31 + width)
        store.create("a", shape)
        store.write("a", values)
        padded = np.pad(values, 2)
        for y0 in edge_bounds(height):
            for y1 in edge_bounds(height):
                for x0 in edge_bounds(width):
                    for x1 in edge_bounds(width):
                        window = store.get_window("a", y0, y1, x0, x1)
                        expected = padded[y0 + 2 : max(y0, y1) + 2, x0 + 2 : max(x0, x1) + 2]
                        assert window.shape == expected.shape, (y0, y1, x0, x1)
                        assert window.dtype == np.float32
                        np.testing.assert_array_equal(window, expected, err_msg=str((y0, y1, x0, x1)))


