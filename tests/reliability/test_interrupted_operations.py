"""Property: random store operations, some failing part-way, leave the store equal to a numpy model."""

from __future__ import annotations

import math
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from farm_grids.errors import FarmGridsError
from farm_grids.stores import GridStore, MemmapStore, RamStore, SparseRamStore

from farm_grids.testing import IN_CI

BACKENDS = ("ram", "sparse_ram", "memmap")
DTYPES = ("float32", "float64", "int32")
NAMES = ("a", "b", "c")
INTERRUPTED = settings(
    max_examples=300 if IN_CI else 40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class Boom:
    """A value whose conversion raises: an interruption from inside the input, at any index."""

    def __float__(self) -> float:
        raise ArithmeticError("interrupted while converting")

    __int__ = __index__ = __float__  # type: ignore[assignment]


@dataclass
class Model:
    """What the store must hold: open grids, and (memmap) grids closed with their file kept."""

    memmap: bool
    grids: dict[str, np.ndarray] = field(default_factory=dict)
    kept: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Op:
    text: str
    run: Callable[[GridStore], object]
    apply: Callable[[Model], None] | None  # None: the operation must fail and change nothing
    typed: bool = True  # a failure must be a FarmGridsError (False: the input's own exception)


def small(dtype: str) -> st.SearchStrategy[float | int]:
    if dtype == "int32":
        return st.integers(-100, 100)
    return st.floats(-100, 100, allow_nan=False, width=32)


def bad_cell(dtype: str) -> st.SearchStrategy[object]:
    """A number no cell of ``dtype`` can hold (non-finite, or beyond its range)."""
    common: list[object] = [math.nan, math.inf, -math.inf]
    return st.sampled_from(common + ([1e300, 1e39] if dtype == "float32" else [2**31, -(2**31) - 1, 1e20] if dtype == "int32" else []))


def bad_scalar(dtype: str) -> st.SearchStrategy[object]:
    """A bad scalar argument: a bad number, or something that is not a number at all."""
    return st.one_of(bad_cell(dtype), st.sampled_from([True, np.bool_(False), "1", None]))


def region_for(shape: tuple[int, int]) -> st.SearchStrategy[tuple[slice, slice]]:
    def bounds(size: int) -> st.SearchStrategy[slice]:
        edge = st.one_of(st.none(), st.integers(-size - 2, size + 2))
        return st.builds(slice, edge, edge)

    return st.tuples(bounds(shape[0]), bounds(shape[1]))


BAD_REGIONS = [(slice(0, 4, 2), slice(None)), (slice(0.5, 2), slice(None)), [slice(0, 1), slice(0, 1)], (1, 2), (slice(None),)]


@st.composite
def operation(draw: st.DrawFn, model: Model) -> Op:
    names = sorted(model.grids)
    kind = draw(st.sampled_from(
        ["create", "create", "write", "fill", "scale", "add_at", "add_many", "close", "unknown", "bad_region"]
        if names else ["create", "create", "unknown"]
    ))
    if kind == "create":
        name = draw(st.sampled_from(NAMES))
        dtype = draw(st.sampled_from(DTYPES))
        shape = (draw(st.integers(1, 6)), draw(st.integers(1, 6)))
        broken = draw(st.sampled_from(["ok", "ok", "ok", "fill", "shape"]))
        taken = name in model.grids or name in model.kept
        if broken == "fill":
            fill = draw(bad_scalar(dtype))
            return Op(f"create {name} {shape} {dtype} fill={fill!r}", lambda s: s.create(name, shape, dtype=dtype, fill=fill), None)
        if broken == "shape":
            bad_shape = draw(st.sampled_from([(0, 3), (-1, 2), (2.5, 2), (2,), (True, 2)]))
            return Op(f"create {name} {bad_shape}", lambda s: s.create(name, bad_shape, dtype=dtype), None)
        fill = draw(small(dtype))

        def created(m: Model) -> None:
            m.grids[name] = np.full(shape, fill, dtype=dtype)

        return Op(f"create {name} {shape} {dtype} fill={fill!r}",
                  lambda s: s.create(name, shape, dtype=dtype, fill=fill), None if taken else created)
    if kind == "unknown":
        name = draw(st.sampled_from(["nope", ["a"], None]))
        return Op(f"fill unknown {name!r}", lambda s: s.fill(name, 1.0), None)  # type: ignore[arg-type]

    name = draw(st.sampled_from(names))
    grid = model.grids[name]
    dtype, shape = grid.dtype.name, grid.shape
    fails = draw(st.booleans()) if kind not in ("close", "bad_region") else kind == "bad_region"

    if kind == "bad_region":
        region = draw(st.sampled_from(BAD_REGIONS))
        return Op(f"fill {name} region={region!r}", lambda s: s.fill(name, 1.0, region=region), None)
    if kind == "close":
        delete = draw(st.booleans())

        def closed(m: Model) -> None:
            values = m.grids.pop(name)
            if m.memmap and not delete:
                m.kept[name] = values

        return Op(f"close {name} delete={delete}", lambda s: s.close(name, delete_file=delete), closed)
    if kind == "write":
        size = grid.size
        if dtype == "int32":
            data = np.array(draw(st.lists(st.integers(-100, 100), min_size=size, max_size=size)), dtype=np.int64)
        else:
            data = np.array(draw(st.lists(st.floats(-100, 100, allow_nan=False), min_size=size, max_size=size)))
        data = data.reshape(shape)
        if fails:
            where = draw(st.integers(0, size - 1))  # the failure lands at a random cell
            how = draw(st.sampled_from(["value", "object", "boom", "shape"]))
            if how == "shape":
                return Op(f"write {name} wrong shape", lambda s: s.write(name, np.ones((shape[0] + 1, shape[1]))), None)
            bad = data.astype(object)
            flat = bad.reshape(-1)
            flat[where] = {"value": draw(bad_cell(dtype)), "object": "x", "boom": Boom()}[how]
            if how == "value" and isinstance(flat[where], float):
                bad = bad.astype(np.float64)  # a plain float array holding one unstorable value
            return Op(f"write {name} bad {how} at {where}: {flat[where]!r}", lambda s: s.write(name, bad), None,
                      typed=how != "boom")

        def written(m: Model) -> None:
            np.copyto(m.grids[name], data, casting="unsafe")

        return Op(f"write {name}", lambda s: s.write(name, data), written)
    if kind in ("fill", "scale"):
        region = draw(st.one_of(st.none(), region_for(shape)))
        if kind == "fill":
            value = draw(bad_scalar(dtype)) if fails else draw(small(dtype))
        else:
            value = draw(st.sampled_from([math.nan, math.inf, 1e300] if dtype == "float32" else [math.nan, -math.inf])) \
                if fails else draw(st.sampled_from([-2.0, -1.0, 0.0, 0.5, 1.0, 2.0]))

        def changed(m: Model) -> None:
            target = m.grids[name] if region is None else m.grids[name][region]
            if kind == "fill":
                target[...] = value
            else:
                np.multiply(target, value, out=target, casting="unsafe")

        return Op(f"{kind} {name} {value!r} region={region!r}",
                  lambda s: getattr(s, kind)(name, value, region=region), None if fails else changed)
    if kind == "add_at":
        if fails:
            how = draw(st.sampled_from(["outside", "value"]))
            if how == "outside":
                y, x = draw(st.sampled_from([(shape[0], 0), (0, shape[1]), (-1, 0)]))
                return Op(f"add_at {name} outside ({y}, {x})", lambda s: s.add_at(name, y, x, 1), None)
            value = draw(bad_scalar(dtype))
            return Op(f"add_at {name} {value!r}", lambda s: s.add_at(name, 0, 0, value), None)
        y, x = draw(st.integers(0, shape[0] - 1)), draw(st.integers(0, shape[1] - 1))
        value = draw(small(dtype))

        def added(m: Model) -> None:
            m.grids[name][y, x] += value

        return Op(f"add_at {name} ({y}, {x}) {value!r}", lambda s: s.add_at(name, y, x, value), added)
    # add_many
    count = draw(st.integers(1, 8))
    ys = draw(st.lists(st.integers(-1, shape[0]), min_size=count, max_size=count))
    xs = draw(st.lists(st.integers(-1, shape[1]), min_size=count, max_size=count))
    values: list[object] = draw(st.lists(small(dtype), min_size=count, max_size=count))
    accumulate = draw(st.booleans())
    clip = draw(st.one_of(st.none(), st.integers(-50, 50)))
    if fails:
        where = draw(st.integers(0, count - 1))
        values[where] = draw(st.one_of(bad_cell(dtype), st.just("x"), st.just(Boom())))
        boom = isinstance(values[where], Boom)
        array = np.array(values, dtype=object)
        return Op(f"add_many {name} bad {values[where]!r} at {where}",
                  lambda s: s.add_many(name, ys, xs, array, accumulate=accumulate, clip_max=clip), None, typed=not boom)

    def scattered(m: Model) -> None:
        target = m.grids[name]
        cast = np.dtype(dtype).type
        inside = [(y, x, v) for y, x, v in zip(ys, xs, values) if 0 <= y < shape[0] and 0 <= x < shape[1]]
        for y, x, v in inside:  # one point at a time, in order: the definition of add and set
            if accumulate:
                target[y, x] = target[y, x] + cast(v)
            else:
                target[y, x] = cast(v)
        if clip is not None:
            for y, x, _ in inside:
                target[y, x] = min(target[y, x], cast(clip))

    return Op(f"add_many {name} {list(zip(ys, xs, values))} acc={accumulate} clip={clip}",
              lambda s: s.add_many(name, ys, xs, values, accumulate=accumulate, clip_max=clip), scattered)


def assert_store_matches(store: GridStore, grids: dict[str, np.ndarray], log: list[str]) -> None:
    assert sorted(store.names()) == sorted(grids), log
    for name, expected in grids.items():
        got = np.array(store.get(name))
        assert got.dtype == expected.dtype and got.shape == expected.shape, (name, log)
        assert np.array_equal(got, expected), (name, got, expected, log[-3:])


def new_store(kind: str, directory: Path) -> GridStore:
    if kind == "memmap":
        return MemmapStore(directory)
    return {"ram": RamStore, "sparse_ram": SparseRamStore}[kind]()


@pytest.mark.parametrize("kind", BACKENDS)
@INTERRUPTED
@given(data=st.data())
def test_interrupted_operations_leave_exactly_the_completed_ones(kind: str, data: st.DataObject) -> None:
    directory = Path(tempfile.mkdtemp(prefix="farm-grids-interrupted-"))
    store = new_store(kind, directory)
    model = Model(memmap=kind == "memmap")
    log: list[str] = []
    try:
        for _ in range(data.draw(st.integers(1, 25), label="steps")):
            op = data.draw(operation(model), label="op")
            log.append(op.text)
            try:
                op.run(store)
            except FarmGridsError:
                assert op.apply is None, f"a valid operation failed: {log}"
            except Exception as exc:  # noqa: BLE001 - which exception escapes is the point
                assert op.apply is None and not op.typed, f"{type(exc).__name__}: {exc} escaped untyped: {log}"
            else:
                assert op.apply is not None, f"an invalid operation was accepted: {log}"
                op.apply(model)
            assert_store_matches(store, model.grids, log)
        if kind == "memmap":
            # What the manifest kept must reopen as the model has it: open grids and kept ones.
            manifest = store.manifest_path  # type: ignore[attr-defined]
            store.close_all()
            expected = {**model.kept, **model.grids}
            if not expected:
                assert not manifest.exists()
            else:
                store = MemmapStore.open(manifest, "r+")
                assert_store_matches(store, expected, log)
    finally:
        store.close_all(delete_files=True)
        shutil.rmtree(directory, ignore_errors=True)
