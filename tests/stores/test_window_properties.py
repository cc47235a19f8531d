"""Hypothesis properties of get_window / get_windows / add_many on both store backends."""

from __future__ import annotations

import itertools
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from farm_grids import GridStore, MemmapStore, RamStore, plan_windows

from .support import (
    ALL_DTYPES,
    PROPERTY_SETTINGS,
    WINDOW_SETTINGS,
    naive_window,
    padded_windows_reference,
    random_grid,
)

_names = itertools.count()


@pytest.fixture(scope="module")
def shared_memmap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MemmapStore]:
    """One manager for every memmap example: hypothesis runs many examples per test call,
    so a function-scoped tmp_path cannot give each example its own directory."""
    directory = tmp_path_factory.mktemp("memmap-properties")
    store = MemmapStore(directory)
    yield store
    store.close_all(delete_files=True)
    leftovers = sorted(p.name for p in directory.iterdir())
    assert leftovers == [], f"property examples left files behind: {leftovers}"


@contextmanager
def grid_in(backend: str, shared: MemmapStore, values: np.ndarray) -> Iterator[tuple[GridStore, str]]:
    """A grid holding ``values`` in a fresh RAM store or in the shared memmap manager."""
    name = f"g{next(_names)}"
    store: GridStore = RamStore() if backend == "ram" else shared
    store.create(name, values.shape, dtype=values.dtype)
    store.write(name, values)
    try:
        yield store, name
    finally:
        store.close(name, delete_file=True)


sides = st.integers(min_value=1, max_value=64)
seeds = st.integers(min_value=0, max_value=2**32 - 1)
normalizers = st.one_of(st.none(), st.sampled_from([0.5, 3.0, 255.0]), st.floats(1e-3, 1e3))
BACKENDS = ["ram", "memmap"]


@st.composite
def window_bounds(draw: st.DrawFn, size: int) -> tuple[int, int]:
    """A start and stop along one axis: inside, straddling, fully outside, empty or negative."""
    start = draw(st.integers(min_value=-size - 12, max_value=2 * size + 12))
    extent = draw(st.one_of(st.integers(-6, 0), st.integers(1, size + 20)))
    return start, start + extent


def assert_matches(actual: np.ndarray, expected: np.ndarray, normalized: bool) -> None:
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    if normalized:
        # Dividing in the output dtype or in float64 then rounding are both fine: 1 ulp.
        rtol = 1e-6 if actual.dtype == np.float32 else 1e-14
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=0)
    else:
        np.testing.assert_array_equal(actual, expected)


@pytest.mark.parametrize("backend", BACKENDS)
@WINDOW_SETTINGS
@given(data=st.data(), height=sides, width=sides, dtype=st.sampled_from(ALL_DTYPES), seed=seeds)
def test_get_window_equals_the_naive_zero_padded_reference(
    backend: str,
    shared_memmap: MemmapStore,
    data: st.DataObject,
    height: int,
    width: int,
    dtype: str,
    seed: int,
) -> None:
    values = random_grid((height, width), dtype, seed)
    y0, y1 = data.draw(window_bounds(height), label="y0, y1")
    x0, x1 = data.draw(window_bounds(width), label="x0, x1")
    out_dtype = data.draw(st.sampled_from([np.float32, np.float64]), label="out_dtype")
    norm = data.draw(normalizers, label="normalize_by")
    with grid_in(backend, shared_memmap, values) as (store, name):
        window = store.get_window(name, y0, y1, x0, x1, normalize_by=norm, out_dtype=out_dtype)
        expected = naive_window(values, y0, y1, x0, x1, out_dtype)
        if norm is not None:
            expected = (expected / norm).astype(out_dtype)
        assert_matches(window, expected, norm is not None)
        window[...] = 42  # a result is the caller's to mutate; the store must not see it
        np.testing.assert_array_equal(store.get(name), values)


@pytest.mark.parametrize("backend", BACKENDS)
@WINDOW_SETTINGS
@given(data=st.data(), height=sides, width=sides, dtype=st.sampled_from(ALL_DTYPES), seed=seeds)
def test_get_windows_equals_stacked_get_window(
    backend: str,
    shared_memmap: MemmapStore,
    data: st.DataObject,
    height: int,
    width: int,
    dtype: str,
    seed: int,
) -> None:
    values = random_grid((height, width), dtype, seed)
    radius = data.draw(st.integers(0, 10), label="radius")
    # Centres run past every edge (and well outside) so interior, edge and fully
    # outside windows all occur, often in one batch.
    ys = data.draw(st.lists(st.integers(-radius - 3, height + radius + 2), max_size=24), label="ys")
    xs = data.draw(
        st.lists(st.integers(-radius - 3, width + radius + 2), min_size=len(ys), max_size=len(ys)),
        label="xs",
    )
    norm = data.draw(normalizers, label="normalize_by")
    out_kind = data.draw(st.sampled_from(["new", "buffer", "channel-view"]), label="out")
    side, count = 2 * radius + 1, len(ys)
    big = np.full((count, 3, side, side), -7.5, dtype=np.float32)
    out = {"new": None, "buffer": big[:, 0].copy(), "channel-view": big[:, 2]}[out_kind]
    with grid_in(backend, shared_memmap, values) as (store, name):
        windows = store.get_windows(name, ys, xs, radius, normalize_by=norm, out=out)
        stacked = np.stack(
            [
                store.get_window(
                    name, y - radius, y + radius + 1, x - radius, x + radius + 1, normalize_by=norm
                )
                for y, x in zip(ys, xs)
            ]
        ) if count else np.zeros((0, side, side), dtype=np.float32)
        assert_matches(windows, stacked, norm is not None)
        reference = padded_windows_reference(values, ys, xs, radius)
        if norm is not None:
            reference = reference / np.float32(norm)
        assert_matches(windows, reference, norm is not None)
        if out is not None:
            assert windows is out
        plan = plan_windows((height, width), ys, xs, radius)
        planned = store.get_planned_windows(name, plan, normalize_by=norm)
        np.testing.assert_array_equal(planned, windows)
        if out_kind == "channel-view":
            # Only channel 2 of the observation buffer may change.
            assert (big[:, :2] == -7.5).all()
        windows[...] = 42
        np.testing.assert_array_equal(store.get(name), values)


@pytest.mark.parametrize("backend", BACKENDS)
@PROPERTY_SETTINGS
@given(data=st.data(), height=st.integers(1, 12), width=st.integers(1, 12), seed=seeds)
def test_add_many_equals_a_python_loop(
    backend: str, shared_memmap: MemmapStore, data: st.DataObject, height: int, width: int, seed: int
) -> None:
    dtype = data.draw(st.sampled_from(["float32", "float64", "int32"]), label="dtype")
    # Small integers keep every sum exact in each dtype, so the loop is an exact oracle.
    values = np.random.default_rng(seed).integers(-100, 100, size=(height, width)).astype(dtype)
    points = data.draw(
        st.lists(
            st.tuples(st.integers(-2, height + 1), st.integers(-2, width + 1), st.integers(-50, 50)),
            max_size=30,
        ),
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
    with grid_in(backend, shared_memmap, values) as (store, name):
        count = store.add_many(
            name,
            [p[0] for p in points],
            [p[1] for p in points],
            [float(p[2]) for p in points],
            accumulate=accumulate,
            clip_max=clip_max,
        )
        assert count == sum(1 for y, x, _ in points if 0 <= y < height and 0 <= x < width)
        np.testing.assert_array_equal(store.get(name), expected.astype(values.dtype))
