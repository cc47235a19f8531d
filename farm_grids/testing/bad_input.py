"""BadInputSuite: every bad call is a typed error naming the value, and changes no grid and no file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pytest

from farm_grids import (
    BackendCapabilityError,
    GridExistsError,
    GridNotFoundError,
    GridStore,
    InvalidGridSpecError,
)

from farm_grids.testing.files import snapshot_arrays, snapshot_directory, store_directory, temp_files_in

NAN = float("nan")
# (farm-grids error, the built-in it must also be)
NOT_FOUND = (GridNotFoundError, KeyError)
EXISTS = (GridExistsError, ValueError)
INVALID = (InvalidGridSpecError, ValueError)
INCAPABLE = (BackendCapabilityError, TypeError)
SMALL_OUT = np.zeros((1, 3, 3), np.float32)
MASK_2X3 = np.ones((2, 3), dtype=bool)  # the tiles of grid 'a' (4x5) at tile size 2


@dataclass(frozen=True)
class Bad:
    """What a bad call is given: the store holding 'a' (4x5 float32) and 'b' (3x3 int16), and a factory."""

    store: GridStore
    factory: Callable[..., GridStore]


@dataclass(frozen=True)
class BadCase:
    """One bad call, the errors it must raise, the text its message must contain, and what it needs."""

    id: str
    call: Callable[[Bad], Any]
    expect: tuple[type[Exception], type[Exception]]
    names: str
    needs: Callable[[GridStore], bool] = lambda store: True


def _reopens(store: GridStore) -> bool:
    return store.supports_reopen


def _cannot_reopen(store: GridStore) -> bool:
    return not store.supports_reopen


# fmt: off
BAD_CASES = [
    # unknown name
    BadCase("unknown-get", lambda w: w.store.get("nope"), NOT_FOUND, "'nope'"),
    BadCase("unknown-read", lambda w: w.store.read("nope"), NOT_FOUND, "'nope'"),
    BadCase("unknown-info", lambda w: w.store.info("nope"), NOT_FOUND, "'nope'"),
    BadCase("unknown-write", lambda w: w.store.write("nope", np.zeros((4, 5))), NOT_FOUND, "'nope'"),
    BadCase("unknown-add-many", lambda w: w.store.add_many("nope", [0], [0], 1.0), NOT_FOUND, "'nope'"),
    BadCase("unknown-window", lambda w: w.store.get_window("nope", 0, 1, 0, 1), NOT_FOUND, "'nope'"),
    BadCase("unknown-windows", lambda w: w.store.get_windows("nope", [0], [0], 1), NOT_FOUND, "'nope'"),
    BadCase("unknown-cells", lambda w: w.store.get_cells("nope", [0], [0]), NOT_FOUND, "'nope'"),
    BadCase("unknown-scale-tiles", lambda w: w.store.scale_tiles("nope", MASK_2X3, 2, 0.5), NOT_FOUND, "'nope'"),
    BadCase("unknown-close", lambda w: w.store.close("nope"), NOT_FOUND, "'nope'"),
    BadCase("unknown-flush", lambda w: w.store.flush("nope"), NOT_FOUND, "'nope'"),
    # duplicate name (same or different shape)
    BadCase("duplicate", lambda w: w.store.create("a", (4, 5)), EXISTS, "'a'"),
    BadCase("duplicate-other-shape", lambda w: w.store.create("a", (9, 9), dtype="uint8"), EXISTS, "'a'"),
    # shape not 2-D or not positive
    BadCase("shape-1d", lambda w: w.store.create("c", (5,)), INVALID, "(5,)"),
    BadCase("shape-3d", lambda w: w.store.create("c", (2, 3, 4)), INVALID, "(2, 3, 4)"),
    BadCase("shape-int", lambda w: w.store.create("c", 7), INVALID, "got 7"),
    BadCase("shape-zero", lambda w: w.store.create("c", (0, 4)), INVALID, "(0, 4)"),
    BadCase("shape-negative", lambda w: w.store.create("c", (3, -2)), INVALID, "(3, -2)"),
    BadCase("shape-float", lambda w: w.store.create("c", (3.5, 2)), INVALID, "3.5"),
    # unsupported dtype
    BadCase("dtype-complex", lambda w: w.store.create("c", (2, 2), dtype="complex64"), INVALID, "complex64"),
    BadCase("dtype-bool", lambda w: w.store.create("c", (2, 2), dtype=bool), INVALID, "bool"),
    BadCase("dtype-object", lambda w: w.store.create("c", (2, 2), dtype=object), INVALID, "object"),
    BadCase("dtype-nonsense", lambda w: w.store.create("c", (2, 2), dtype="floot32"), INVALID, "floot32"),
    BadCase("dtype-default", lambda w: w.factory(default_dtype="complex128"), INVALID, "complex128"),
    # unknown mode
    BadCase("mode-create", lambda w: w.store.create("c", (2, 2), mode="rw"), INVALID, "'rw'"),
    BadCase("mode-create-read-only", lambda w: w.store.create("c", (2, 2), mode="r"), INVALID, "'r'"),
    BadCase("mode-default", lambda w: w.factory(default_mode="a"), INVALID, "'a'"),
    BadCase("mode-open", lambda w: type(w.store).open(w.store.manifest_path, mode="x"), INVALID, "'x'", _reopens),
    BadCase("mode-open-w+", lambda w: type(w.store).open(w.store.manifest_path, mode="w+"), INVALID, "'w+'",
            _reopens),
    BadCase("open-unsupported", lambda w: type(w.store).open("any-manifest.json"), INCAPABLE, "supports_reopen",
            _cannot_reopen),
    # float / NaN / None / bool bounds and centres
    BadCase("bound-float", lambda w: w.store.get_window("a", 0.5, 2, 0, 2), INVALID, "0.5"),
    BadCase("bound-integral-float", lambda w: w.store.get_window("a", 0, 2.0, 0, 2), INVALID, "2.0"),
    BadCase("bound-nan", lambda w: w.store.get_window("a", 0, 2, NAN, 2), INVALID, "nan"),
    BadCase("bound-none", lambda w: w.store.get_window("a", 0, 2, 0, None), INVALID, "None"),
    BadCase("bound-bool", lambda w: w.store.get_window("a", True, 2, 0, 2), INVALID, "True"),
    BadCase("centre-floats", lambda w: w.store.get_windows("a", [1.5], [1], 1), INVALID, "float64"),
    BadCase("cells-floats", lambda w: w.store.get_cells("a", [1], [0.5]), INVALID, "float64"),
    BadCase("cells-2d", lambda w: w.store.get_cells("a", [[1]], [[1]]), INVALID, "(1, 1)"),
    BadCase("add-at-float", lambda w: w.store.add_at("a", 1.5, 0, 1.0), INVALID, "1.5"),
    BadCase("add-at-outside", lambda w: w.store.add_at("a", 4, 0, 1.0), INVALID, "(4, 0)"),
    # negative radius
    BadCase("radius-negative", lambda w: w.store.get_windows("a", [1], [1], -1), INVALID, "-1"),
    BadCase("radius-float", lambda w: w.store.get_windows("a", [1], [1], 1.5), INVALID, "1.5"),
    # ys / xs of different lengths
    BadCase("centres-lengths", lambda w: w.store.get_windows("a", [1, 2, 3], [1, 2], 1), INVALID, "3 and 2"),
    BadCase("cells-lengths", lambda w: w.store.get_cells("a", [1, 2, 3], [1, 2]), INVALID, "3 and 2"),
    BadCase("add-many-lengths", lambda w: w.store.add_many("a", [1, 2, 3], [1, 2], 1.0), INVALID, "3 and 2"),
    BadCase("add-many-values", lambda w: w.store.add_many("a", [1, 2], [1, 2], [1.0, 2.0, 3.0]), INVALID, "(3,)"),
    BadCase("add-many-clip-nan", lambda w: w.store.add_many("a", [1], [1], 1.0, clip_max=NAN), INVALID, "nan"),
    BadCase("add-many-clip-named", lambda w: w.store.add_many("a", [1], [1], 1.0, clip_max=NAN), INVALID, "clip_max"),
    # non-finite scalars, bad normalisers, out= buffers and regions
    BadCase("fill-nan", lambda w: w.store.fill("a", NAN), INVALID, "nan"),
    BadCase("fill-region-step", lambda w: w.store.fill("a", 1.0, region=(slice(0, 4, 2), slice(None))), INVALID,
            "step"),
    BadCase("scale-inf", lambda w: w.store.scale("a", float("inf")), INVALID, "inf"),
    BadCase("scale-region-not-slices", lambda w: w.store.scale("a", 2.0, region=(0, 1)), INVALID, "slice"),
    BadCase("create-fill-nan", lambda w: w.store.create("c", (2, 2), fill=NAN), INVALID, "nan"),
    BadCase("normalize-zero", lambda w: w.store.get_window("a", 0, 2, 0, 2, normalize_by=0), INVALID, "got 0"),
    BadCase("normalize-nan", lambda w: w.store.get_windows("a", [1], [1], 1, normalize_by=NAN), INVALID, "nan"),
    BadCase("out-shape", lambda w: w.store.get_windows("a", [1, 2], [1, 2], 1, out=SMALL_OUT), INVALID, "(1, 3, 3)"),
    BadCase("out-dtype", lambda w: w.store.get_windows("a", [1], [1], 1, out=SMALL_OUT.astype("f8")), INVALID,
            "float64"),
    # scale_tiles: mask, tile size, factor and floor
    BadCase("tiles-mask-shape", lambda w: w.store.scale_tiles("a", np.ones((2, 2), bool), 2, 0.5), INVALID, "(2, 3)"),
    BadCase("tiles-mask-dtype", lambda w: w.store.scale_tiles("a", MASK_2X3.astype(int), 2, 0.5), INVALID, "int"),
    BadCase("tiles-size-zero", lambda w: w.store.scale_tiles("a", MASK_2X3, 0, 0.5), INVALID, "got 0"),
    BadCase("tiles-size-float", lambda w: w.store.scale_tiles("a", MASK_2X3, 2.0, 0.5), INVALID, "2.0"),
    BadCase("tiles-factor-nan", lambda w: w.store.scale_tiles("a", MASK_2X3, 2, NAN), INVALID, "nan"),
    BadCase("tiles-floor-inf", lambda w: w.store.scale_tiles("a", MASK_2X3, 2, 0.5, floor=float("inf")), INVALID,
            "inf"),
    # write of the wrong shape
    BadCase("write-transposed", lambda w: w.store.write("a", np.zeros((5, 4))), INVALID, "(5, 4)"),
    BadCase("write-flat", lambda w: w.store.write("a", np.zeros(20)), INVALID, "(20,)"),
    BadCase("write-scalar", lambda w: w.store.write("b", 3.0), INVALID, "got ()"),
]
# fmt: on


class BadInputSuite:
    """The bad-input table, run on every backend; a case a backend cannot meet is skipped by its flags."""

    @pytest.fixture
    def bad(self, store: GridStore, store_factory: Callable[..., GridStore]) -> Bad:
        store.create("a", (4, 5))
        store.write("a", np.arange(20, dtype=np.float32).reshape(4, 5) - 7.5)
        store.create("b", (3, 3), dtype="int16", fill=-3)
        store.flush()
        return Bad(store=store, factory=store_factory)

    @pytest.mark.parametrize("case", BAD_CASES, ids=[case.id for case in BAD_CASES])
    def test_bad_input_raises_a_typed_error_and_changes_nothing(self, bad: Bad, case: BadCase) -> None:
        if not case.needs(bad.store):
            pytest.skip(f"{case.id}: not a capability of the {bad.store.backend} backend")
        directory = store_directory(bad.store)
        assert (directory is not None) == bad.store.file_backed
        arrays_before = snapshot_arrays(bad.store)
        files_before = snapshot_directory(directory) if directory is not None else {}
        error, builtin = case.expect
        with pytest.raises(error) as raised:
            case.call(bad)
        assert isinstance(raised.value, builtin), type(raised.value).__mro__
        assert case.names in str(raised.value), str(raised.value)
        assert snapshot_arrays(bad.store) == arrays_before
        if directory is not None:
            assert snapshot_directory(directory) == files_before
            assert temp_files_in(directory) == []
        assert not bad.store.closed  # a bad call never takes the store down with it

    @pytest.mark.parametrize("position", range(4))
    def test_a_bool_bound_is_refused_in_every_position(self, store: GridStore, position: int) -> None:
        # An in-bounds fast path must refuse bools exactly as the checked path does.
        store.create("a", (4, 4))
        bounds: list[Any] = [0, 2, 0, 2]
        bounds[position] = True
        label = ("y0", "y1", "x0", "x1")[position]
        with pytest.raises(InvalidGridSpecError, match=f"{label} must be an integer, got True"):
            store.get_window("a", *bounds)
