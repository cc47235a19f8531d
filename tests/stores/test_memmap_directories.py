"""Bad input on both backends: a typed error naming the value, and nothing on disk or in RAM changed."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest

from farm_grids import (
    GridExistsError,
    GridNotFoundError,
    GridStore,
    InvalidGridSpecError,
    MemmapStore,
    RamStore,
    StorageDirectoryError,
)

from .support import snapshot_arrays, snapshot_directory, temp_files_in

NAN = float("nan")
# (farm-grids error, the built-in it must also be)
NOT_FOUND = (GridNotFoundError, KeyError)
EXISTS = (GridExistsError, ValueError)
INVALID = (InvalidGridSpecError, ValueError)
STORAGE = (StorageDirectoryError, PermissionError)
BOTH = ("ram", "memmap")
MEMMAP = ("memmap",)


@dataclass(frozen=True)
class Workspace:
    """A store holding grid 'a' (4x5 float32) and 'b' (3x3 int16), inside ``root``."""

    store: GridStore
    root: Path
    grids: Path
    plain_file: Path


@dataclass(frozen=True)
class BadCase:
    """One bad call, the errors it must raise and the text its message must contain."""

    id: str
    call: Callable[[Workspace], Any]
    expect: tuple[type[Exception], type[Exception]]
    names: str
    backends: tuple[str, ...] = BOTH
    marks: tuple[Any, ...] = ()


def _memmap_in(directory: Callable[[Workspace], object]) -> Callable[[Workspace], Any]:
    return lambda w: MemmapStore(directory(w))  # type: ignore[arg-type]


_IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
NEEDS_PROC = pytest.mark.skipif(
    not Path("/proc/self").is_dir(), reason="needs Linux /proc (a place even root cannot write)"
)
NOT_ROOT = pytest.mark.skipif(_IS_ROOT, reason="root writes through chmod 0o500; the /proc cases cover root")
SMALL_OUT = np.zeros((1, 3, 3), np.float32)

# fmt: off
CASES = [
    # unknown name
    BadCase("unknown-get", lambda w: w.store.get("nope"), NOT_FOUND, "'nope'"),
    BadCase("unknown-info", lambda w: w.store.info("nope"), NOT_FOUND, "'nope'"),
    BadCase("unknown-write", lambda w: w.store.write("nope", np.zeros((4, 5))), NOT_FOUND, "'nope'"),
    BadCase("unknown-add-many", lambda w: w.store.add_many("nope", [0], [0], 1.0), NOT_FOUND, "'nope'"),
    BadCase("unknown-window", lambda w: w.store.get_window("nope", 0, 1, 0, 1), NOT_FOUND, "'nope'"),
    BadCase("unknown-windows", lambda w: w.store.get_windows("nope", [0], [0], 1), NOT_FOUND, "'nope'"),
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
    BadCase("dtype-default", lambda w: RamStore(default_dtype="complex128"), INVALID, "complex128", ("ram",)),
    BadCase("dtype-default", lambda w: MemmapStore(w.grids, default_dtype="complex128"), INVALID, "complex128",
            MEMMAP),
    # unknown mode
    BadCase("mode-create", lambda w: w.store.create("c", (2, 2), mode="rw"), INVALID, "'rw'"),
    BadCase("mode-create-read-only", lambda w: w.store.create("c", (2, 2), mode="r"), INVALID, "'r'"),
    BadCase("mode-default", lambda w: RamStore(default_mode="a"), INVALID, "'a'", ("ram",)),
    BadCase("mode-default", lambda w: MemmapStore(w.grids, default_mode="a"), INVALID, "'a'", MEMMAP),
    BadCase("mode-open", lambda w: MemmapStore.open(w.store.manifest_path, mode="x"), INVALID, "'x'", MEMMAP),
    BadCase("mode-open-w+", lambda w: MemmapStore.open(w.store.manifest_path, mode="w+"), INVALID, "'w+'", MEMMAP),
    # float / NaN / None bounds
    BadCase("bound-float", lambda w: w.store.get_window("a", 0.5, 2, 0, 2), INVALID, "0.5"),
    BadCase("bound-integral-float", lambda w: w.store.get_window("a", 0, 2.0, 0, 2), INVALID, "2.0"),
    BadCase("bound-nan", lambda w: w.store.get_window("a", 0, 2, NAN, 2), INVALID, "nan"),
    BadCase("bound-none", lambda w: w.store.get_window("a", 0, 2, 0, None), INVALID, "None"),
    BadCase("bound-bool", lambda w: w.store.get_window("a", True, 2, 0, 2), INVALID, "True"),
    BadCase("centre-floats", lambda w: w.store.get_windows("a", [1.5], [1], 1), INVALID, "float64"),
    BadCase("add-at-float", lambda w: w.store.add_at("a", 1.5, 0, 1.0), INVALID, "1.5"),
    BadCase("add-at-outside", lambda w: w.store.add_at("a", 4, 0, 1.0), INVALID, "(4, 0)"),
    # negative radius
    BadCase("radius-negative", lambda w: w.store.get_windows("a", [1], [1], -1), INVALID, "-1"),
    BadCase("radius-float", lambda w: w.store.get_windows("a", [1], [1], 1.5), INVALID, "1.5"),
    # ys / xs of different lengths
    BadCase("centres-lengths", lambda w: w.store.get_windows("a", [1, 2, 3], [1, 2], 1), INVALID, "3 and 2"),
    BadCase("add-many-lengths", lambda w: w.store.add_many("a", [1, 2, 3], [1, 2], 1.0), INVALID, "3 and 2"),
    BadCase("add-many-values", lambda w: w.store.add_many("a", [1, 2], [1, 2], [1.0, 2.0, 3.0]), INVALID, "(3,)"),
    BadCase("add-many-clip-nan", lambda w: w.store.add_many("a", [1], [1], 1.0, clip_max=NAN), INVALID, "nan"),
    # non-finite scalars, bad normalisers and out= buffers
    BadCase("fill-nan", lambda w: w.store.fill("a", NAN), INVALID, "nan"),
    BadCase("scale-inf", lambda w: w.store.scale("a", float("inf")), INVALID, "inf"),
    BadCase("create-fill-nan", lambda w: w.store.create("c", (2, 2), fill=NAN), INVALID, "nan"),
    BadCase("normalize-zero", lambda w: w.store.get_window("a", 0, 2, 0, 2, normalize_by=0), INVALID, "got 0"),
    BadCase("normalize-nan", lambda w: w.store.get_windows("a", [1], [1], 1, normalize_by=NAN), INVALID, "nan"),
    BadCase("out-shape", lambda w: w.store.get_windows("a", [1, 2], [1, 2], 1, out=SMALL_OUT), INVALID, "(1, 3, 3)"),
    BadCase("out-dtype", lambda w: w.store.get_windows("a", [1], [1], 1, out=SMALL_OUT.astype("f8")), INVALID, "float64"),
    # write of the wrong shape
    BadCase("write-transposed", lambda w: w.store.write("a", np.zeros((5, 4))), INVALID, "(5, 4)"),
    BadCase("write-flat", lambda w: w.store.write("a", np.zeros(20)), INVALID, "(20,)"),
    BadCase("write-scalar", lambda w: w.store.write("b", 3.0), INVALID, "got ()"),
    # unwritable directory
    BadCase("dir-proc", _memmap_in(lambda w: "/proc"), STORAGE, "/proc", MEMMAP, (NEEDS_PROC,)),
    BadCase("dir-under-proc", _memmap_in(lambda w: "/proc/farm-grids/x"), STORAGE, "/proc/farm-grids/x", MEMMAP,
            (NEEDS_PROC,)),
    BadCase("dir-chmod-500", _memmap_in(lambda w: w.root / "locked"), STORAGE, "locked", MEMMAP, (NOT_ROOT,)),
    # directory path that is a file (or lies beneath one)
    BadCase("dir-is-file", _memmap_in(lambda w: w.plain_file), STORAGE, "plain-file", MEMMAP),
    BadCase("dir-under-file", _memmap_in(lambda w: w.plain_file / "sub"), STORAGE, "plain-file", MEMMAP),
]
# fmt: on


@pytest.fixture
def workspace(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workspace]:
    """The backend named by the test's parameter, holding two grids, beside a file and a locked dir."""
    grids = tmp_path / "grids"
    plain_file = tmp_path / "plain-file"
    plain_file.write_text("I am a file, not a directory")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    store: GridStore = MemmapStore(grids) if request.param == "memmap" else RamStore()
    store.create("a", (4, 5))
    store.write("a", np.arange(20, dtype=np.float32).reshape(4, 5) - 7.5)
    store.create("b", (3, 3), dtype="int16", fill=-3)
    store.flush()
    yield Workspace(store=store, root=tmp_path, grids=grids, plain_file=plain_file)
    locked.chmod(0o700)
    if not store.closed:
        store.close_all(delete_files=True)


def _params() -> list[Any]:
    return [
        pytest.param(case, backend, id=f"{case.id}-{backend}", marks=case.marks)
        for case in CASES
        for backend in ("ram", "memmap")
        if backend in case.backends
    ]


@pytest.mark.parametrize(("case", "workspace"), _params(), indirect=["workspace"])
def test_bad_input_raises_a_typed_error_and_changes_nothing(case: BadCase, workspace: Workspace) -> None:
    arrays_before = snapshot_arrays(workspace.store)
    files_before = snapshot_directory(workspace.root)
    error, builtin = case.expect
    with pytest.raises(error) as raised:
        case.call(workspace)
    assert isinstance(raised.value, builtin), type(raised.value).__mro__
    assert case.names in str(raised.value), str(raised.value)
    assert snapshot_arrays(workspace.store) == arrays_before
    assert snapshot_directory(workspace.root) == files_before
    assert temp_files_in(workspace.root) == []
    assert not workspace.store.closed  # a bad call never takes the store down with it


@pytest.mark.parametrize("position", range(4))
def test_a_bool_bound_is_refused_in_every_position(position: int) -> None:
    # The in-bounds fast path must refuse bools exactly as the checked path does.
    from farm_grids import RamStore

    with RamStore() as store:
        store.create("a", (4, 4))
        bounds = [0, 2, 0, 2]
        bounds[position] = True
        with pytest.raises(InvalidGridSpecError, match="True"):
            store.get_window("a", *bounds)
