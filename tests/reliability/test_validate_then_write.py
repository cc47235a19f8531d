"""Items 8, 11: every write path checks its whole input first; a bad value changes no cell (RAM and memmap)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from farm_grids.config import MemmapConfig, SimulationConfig
from farm_grids.errors import InvalidGridSpecError
from farm_grids.stores import GridStore

from .conftest import StoreFactory

SHAPE = (4, 4)


def seeded(make_store: StoreFactory) -> GridStore:
    """A store with one grid per dtype family, each holding distinct finite values."""
    store = make_store()
    store.create("f32", SHAPE)
    store.write("f32", np.arange(16, dtype=np.float32).reshape(SHAPE) + 0.5)
    store.create("i32", SHAPE, dtype="int32", fill=-3)
    store.create("u8", SHAPE, dtype="uint8", fill=200)
    store.create("f64", SHAPE, dtype="float64", fill=1.25)
    return store


def snapshot(store: GridStore) -> dict[str, bytes]:
    return {name: np.array(store.get(name)).tobytes() for name in store.names()}


def torn_object_array() -> np.ndarray:
    """15 good cells and a last cell that fails conversion: the torn write of item 8."""
    data = np.empty(16, dtype=object)
    data[:15] = [float(i) for i in range(15)]
    data[15] = "x"
    return data.reshape(SHAPE)


def last_cell(value: object, dtype: object = np.float64) -> np.ndarray:
    data = np.ones(SHAPE, dtype=dtype)
    data[-1, -1] = value
    return data


BAD_WRITES: dict[str, Callable[[GridStore], object]] = {
    # item 8: conversion fails part-way
    "write_torn_object_array": lambda s: s.write("f32", torn_object_array()),
    "write_torn_object_array_int": lambda s: s.write("i32", torn_object_array()),
    "write_object_none_last": lambda s: s.write("f32", np.array([[1, 2, 3, 4]] * 3 + [[1, 2, 3, None]], dtype=object)),
    "write_nested_list_text_last": lambda s: s.write("f32", [[1.0] * 4] * 3 + [[1.0, 1.0, 1.0, "x"]]),
    "write_object_huge_int_last": lambda s: s.write("i32", np.array([[1] * 4] * 3 + [[1, 1, 1, 10**400]], dtype=object)),
    # item 11: finiteness after casting, integer range, NaN
    "write_nan_last": lambda s: s.write("f32", last_cell(np.nan)),
    "write_inf_last": lambda s: s.write("f32", last_cell(np.inf)),
    "write_1e300_into_float32": lambda s: s.write("f32", last_cell(1e300)),
    "write_1e39_into_float32": lambda s: s.write("f32", last_cell(1e39)),
    "write_nan_into_int": lambda s: s.write("i32", last_cell(np.nan)),
    "write_2_31_into_int32": lambda s: s.write("i32", last_cell(2**31, np.int64)),
    "write_300_into_uint8": lambda s: s.write("u8", last_cell(300, np.int64)),
    "write_minus_1_into_uint8": lambda s: s.write("u8", last_cell(-1.0)),
    "write_wrong_shape": lambda s: s.write("f32", np.ones((4, 5))),
    "write_text": lambda s: s.write("f32", np.full(SHAPE, "1.0")),
    "fill_1e300_float32": lambda s: s.fill("f32", 1e300),
    "fill_nan": lambda s: s.fill("f32", math.nan),
    "fill_inf_region": lambda s: s.fill("f32", math.inf, region=(slice(0, 2), slice(0, 2))),
    "fill_uint8_300": lambda s: s.fill("u8", 300),
    "fill_uint8_minus_1": lambda s: s.fill("u8", -1),
    "fill_int32_huge": lambda s: s.fill("i32", 2**40),
    "fill_bool": lambda s: s.fill("f32", True),
    "fill_text": lambda s: s.fill("f32", "1"),
    "scale_1e300_float32": lambda s: s.scale("f32", 1e300),
    "scale_1e300_float32_region": lambda s: s.scale("f32", 1e300, region=(slice(1, 3), slice(None))),
    "scale_nan": lambda s: s.scale("f64", math.nan),
    "scale_inf_int": lambda s: s.scale("i32", math.inf),
    "scale_tiles_1e300_float32": lambda s: s.scale_tiles("f32", np.ones((1, 1), bool), 4, 1e300),
    "add_at_1e300_float32": lambda s: s.add_at("f32", 1, 1, 1e300),
    "add_at_nan": lambda s: s.add_at("f64", 1, 1, math.nan),
    "add_at_bool": lambda s: s.add_at("f32", 1, 1, True),
    "add_at_uint8_300": lambda s: s.add_at("u8", 1, 1, 300),
    "add_at_outside": lambda s: s.add_at("f32", 4, 0, 1.0),
    "add_many_1e300_last": lambda s: s.add_many("f32", [0, 1, 2, 3], [0, 1, 2, 3], [1.0, 2.0, 3.0, 1e300]),
    "add_many_nan_middle": lambda s: s.add_many("f64", [0, 1, 2], [0, 1, 2], [1.0, math.nan, 3.0]),
    "add_many_bools": lambda s: s.add_many("f32", [0, 1], [0, 1], [True, False]),
    "add_many_bool_scalar": lambda s: s.add_many("f32", [0, 1], [0, 1], True),
    "add_many_text": lambda s: s.add_many("f32", [0, 1], [0, 1], "abc"),
    "add_many_uint8_300_last": lambda s: s.add_many("u8", [0, 1], [0, 1], [1, 300]),
    "add_many_clip_1e300": lambda s: s.add_many("f32", [0], [0], [1.0], clip_max=1e300),
    "add_many_set_torn": lambda s: s.add_many("f32", [0, 1], [0, 1], np.array([1.0, "x"], dtype=object), accumulate=False),
}


@pytest.mark.parametrize("case", sorted(BAD_WRITES))
def test_bad_write_raises_typed_error_and_changes_no_cell(make_store: StoreFactory, case: str) -> None:
    store = seeded(make_store)
    before = snapshot(store)
    with pytest.raises(InvalidGridSpecError):
        BAD_WRITES[case](store)
    assert snapshot(store) == before
    assert all(np.isfinite(store.get(name)).all() for name in store.names())


@pytest.mark.parametrize(
    ("dtype", "fill"),
    [("uint8", 300), ("uint8", -1), ("int8", -129), ("float32", 1e300), ("float16", 1e6), ("float32", math.nan), ("int32", math.inf)],
)
def test_create_with_an_unstorable_fill_is_refused_and_not_registered(
    make_store: StoreFactory, dtype: str, fill: float
) -> None:
    store = seeded(make_store)
    with pytest.raises(InvalidGridSpecError):
        store.create("new", SHAPE, dtype=dtype, fill=fill)
    assert "new" not in store
    store.create("new", SHAPE, dtype=dtype)  # the name is free: nothing half-made took it


@pytest.mark.parametrize("dtype", ["float32", "uint8"])
def test_ram_and_memmap_agree_on_an_out_of_range_fill(tmp_path: Path, dtype: str) -> None:
    """uint8 fill=300 once stored 44 in RAM and raised OverflowError on memmap."""
    from farm_grids.stores import MemmapStore, RamStore, SparseRamStore

    outcomes = []
    for store in (RamStore(), SparseRamStore(), MemmapStore(tmp_path)):
        store.create("g", SHAPE, dtype=dtype)
        try:
            store.fill("g", 300 if dtype == "uint8" else 1e300)
            outcomes.append(("stored", np.array(store.get("g")).tolist()))
        except InvalidGridSpecError:
            outcomes.append(("refused", np.array(store.get("g")).tolist()))
        finally:
            store.close_all(delete_files=True)
    assert outcomes == [("refused", np.zeros(SHAPE).tolist())] * 3


def test_values_that_fit_are_stored_exactly(make_store: StoreFactory) -> None:
    """The control for the refusals: the edge of each range is accepted."""
    store = seeded(make_store)
    store.fill("u8", 255)
    store.add_at("u8", 0, 0, 0)
    store.fill("u8", 0, region=(slice(0, 1), slice(0, 1)))
    store.fill("f64", 1e300)
    store.write("f32", last_cell(3.0e38))
    store.add_many("i32", [0, 0], [1, 1], [2**31 - 1, -(2**31 - 1)])  # sums to 0, then -3 was there
    assert store.get("u8")[0, 0] == 0 and store.get("u8")[1, 1] == 255
    assert store.get("f64")[2, 2] == 1e300
    assert store.get("f32")[-1, -1] == np.float32(3.0e38)
    assert store.get("i32")[0, 1] == -3


@pytest.mark.parametrize("use_memmap", [False, True], ids=["ram", "memmap"])
@pytest.mark.parametrize("bad", ["1e300", "nan", "torn"])
def test_set_environmental_layer_refuses_unstorable_values(tmp_path: Path, use_memmap: bool, bad: str) -> None:
    from farm_grids.environment import Environment

    memmap = MemmapConfig(directory=str(tmp_path), use_for_environmental=use_memmap)
    env = Environment(SimulationConfig(width=6, height=5, memmap=memmap))
    try:
        env.set_environmental_layer("TERRAIN_COST", np.full((5, 6), 2.0))
        before = np.array(env.environmental.get("TERRAIN_COST"))
        data: object = np.full((5, 6), 1.0)
        if bad == "torn":
            data = np.ones((5, 6), dtype=object)
            data[-1, -1] = "x"
        else:
            data[-1, -1] = float(bad)  # type: ignore[index]
        with pytest.raises(InvalidGridSpecError):
            env.set_environmental_layer("TERRAIN_COST", data)
        np.testing.assert_array_equal(env.environmental.get("TERRAIN_COST"), before)
        with pytest.raises(InvalidGridSpecError):
            env.set_environmental_layer("OBSTACLES", data)  # a layer never set is not created either
        assert not env.environmental.is_set("OBSTACLES")
    finally:
        env.close()


WARNING_CASES = ("fill_1e300_float32", "write_1e300_into_float32", "add_many_1e300_last", "add_at_1e300_float32")


def test_refusals_stay_typed_when_warnings_are_errors(make_store: StoreFactory) -> None:
    """Under ``-W error`` (or pytest's filterwarnings=error) a check must not leak numpy's RuntimeWarning."""
    import warnings

    store = seeded(make_store)
    before = snapshot(store)
    leaked = {}
    for case in WARNING_CASES:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                BAD_WRITES[case](store)
                leaked[case] = "accepted"
            except InvalidGridSpecError:
                pass
            except Exception as exc:  # noqa: BLE001 - the point is which type escapes
                leaked[case] = f"{type(exc).__name__}: {exc}"
    assert leaked == {}, leaked
    assert snapshot(store) == before
