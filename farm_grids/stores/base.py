"""The grid-store interface: validation and every shared operation, written once over two primitives."""

from __future__ import annotations

import abc
import math
import numbers
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Iterator

import numpy as np

from farm_grids.errors import (
    GridExistsError,
    GridNotFoundError,
    InvalidGridSpecError,
    ReadOnlyGridError,
    StoreClosedError,
)
from farm_grids.points import flat_points, scatter
from farm_grids.windows import (
    WindowPlan,
    read_planned_windows,
    read_window,
    read_windows,
    validate_bound,
)

__all__ = ["GridInfo", "GridStore", "SUPPORTED_DTYPES", "VALID_MODES", "validate_dtype"]

SUPPORTED_DTYPES: frozenset[str] = frozenset(
    {"float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32"}
)
VALID_MODES: tuple[str, ...] = ("w+", "r+", "r")
_FLOAT32 = np.dtype(np.float32)
_F32_TYPE = np.float32


@dataclass(frozen=True)
class GridInfo:
    """What a store knows about one grid."""

    name: str
    shape: tuple[int, int]
    dtype: str
    mode: str
    backend: str
    nbytes: int
    path: Path | None = None

    @property
    def writable(self) -> bool:
        return self.mode != "r"

    @property
    def file_backed(self) -> bool:
        return self.path is not None


@dataclass
class _Entry:
    info: GridInfo
    # The backing object (np.memmap or ndarray) and a plain-ndarray view of it: reads go
    # through the view so numpy never dispatches through the memmap subclass.
    backing: np.ndarray
    view: np.ndarray


def validate_dtype(dtype: object) -> np.dtype:
    try:
        resolved = np.dtype(dtype)
    except TypeError as exc:
        raise InvalidGridSpecError(f"unsupported dtype {dtype!r}") from exc
    if resolved.name not in SUPPORTED_DTYPES:
        raise InvalidGridSpecError(
            f"unsupported dtype {dtype!r}; use one of {sorted(SUPPORTED_DTYPES)}"
        )
    return resolved


def validate_shape(shape: object) -> tuple[int, int]:
    if not isinstance(shape, (tuple, list)) or len(shape) != 2:
        raise InvalidGridSpecError(f"shape must be a 2-tuple (height, width), got {shape!r}")
    dims = tuple(validate_bound(d, "shape") for d in shape)
    if dims[0] <= 0 or dims[1] <= 0:
        raise InvalidGridSpecError(f"shape must be positive, got {shape!r}")
    return dims  # type: ignore[return-value]


def validate_mode(mode: object) -> str:
    if mode not in VALID_MODES:
        raise InvalidGridSpecError(f"unknown mode {mode!r}; use one of {VALID_MODES}")
    return mode  # type: ignore[return-value]


def _validate_scalar(value: object, label: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise InvalidGridSpecError(f"{label} must be a real number, got {value!r}")
    result = float(value)
    if not math.isfinite(result):
        raise InvalidGridSpecError(f"{label} must be finite, got {value!r}")
    return result


class GridStore(abc.ABC):
    """Named 2-D grids behind one interface; backends implement allocation and release only."""

    backend: str = "abstract"

    def __init__(self, *, default_dtype: object = "float32", default_mode: str = "w+") -> None:
        self.default_dtype = validate_dtype(default_dtype)
        self.default_mode = validate_mode(default_mode)
        self._entries: dict[str, _Entry] = {}
        # name -> (view, height, width) of float32 grids: the single-window fast path
        # needs nothing else, and every attribute lookup there costs a visible share.
        self._fast: dict[str, tuple[np.ndarray, int, int]] = {}
        self._closed = False

    # -- backend primitives -------------------------------------------------------------
    @abc.abstractmethod
    def _allocate(
        self, name: str, shape: tuple[int, int], dtype: np.dtype, mode: str, fill: float
    ) -> tuple[np.ndarray, Path | None]:
        """Make the backing array for a new grid (filled with ``fill``) and its path, if any."""

    @abc.abstractmethod
    def _release(self, entry: _Entry, delete_file: bool) -> None:
        """Drop the backing array of a closed grid (and its file if asked)."""

    def _flush_entry(self, entry: _Entry) -> None:
        """Make the grid's writes durable; RAM has nothing to do."""

    def _before_dense_write(self, entry: _Entry) -> None:
        """Hook before every cell of a grid is written (the memmap store picks huge pages)."""

    def _after_change(self) -> None:
        """Hook after the set of grids changed (the memmap store rewrites its manifest)."""

    # -- lifecycle ----------------------------------------------------------------------
    def create(
        self,
        name: str,
        shape: tuple[int, int],
        *,
        dtype: object = None,
        mode: str | None = None,
        fill: float = 0.0,
    ) -> np.ndarray:
        """Create a grid filled with ``fill`` and return a plain ndarray view of it."""
        self._check_open()
        if not isinstance(name, str) or not name:
            raise InvalidGridSpecError(f"grid name must be a non-empty string, got {name!r}")
        if name in self._entries:
            raise GridExistsError(f"grid {name!r} already exists in this {self.backend} store")
        dims = validate_shape(shape)
        resolved = self.default_dtype if dtype is None else validate_dtype(dtype)
        chosen = validate_mode(self.default_mode if mode is None else mode)
        if chosen == "r":
            raise InvalidGridSpecError(
                f"mode 'r' cannot create grid {name!r}: a new grid must be writable "
                "(reopen existing files read-only with MemmapManager.open)"
            )
        fill_value = _validate_scalar(fill, "fill")
        backing, path = self._allocate(name, dims, resolved, chosen, fill_value)
        self._register(name, backing, path, chosen)
        self._after_change()
        return self._entries[name].view

    def _register(self, name: str, backing: np.ndarray, path: Path | None, mode: str) -> None:
        info = GridInfo(
            name=name,
            shape=tuple(backing.shape),  # type: ignore[arg-type]
            dtype=backing.dtype.name,
            mode=mode,
            backend=self.backend,
            nbytes=int(backing.nbytes),
            path=path,
        )
        entry = _Entry(info=info, backing=backing, view=np.asarray(backing))
        self._entries[name] = entry
        if entry.view.dtype == _FLOAT32:
            self._fast[name] = (entry.view, info.shape[0], info.shape[1])

    def close(self, name: str, *, delete_file: bool = False) -> None:
        """Flush (when writable) and release one grid; optionally delete its file."""
        entry = self._entry(name)
        if delete_file:
            self._check_deletable(name)
        if entry.info.writable:
            self._flush_entry(entry)
        del self._entries[name]
        self._fast.pop(name, None)
        self._release(entry, delete_file)
        self._after_change()

    def close_all(self, *, delete_files: bool = False) -> None:
        """Close every grid; the store accepts no further calls afterwards."""
        if self._closed:
            return
        if delete_files:
            for name in self._entries:
                self._check_deletable(name)
        for name in list(self._entries):
            self.close(name, delete_file=delete_files)
        self._closed = True

    def flush(self, name: str | None = None) -> None:
        """Make writes durable for one grid or for all writable grids."""
        self._check_open()
        entries = [self._entry(name)] if name is not None else list(self._entries.values())
        for entry in entries:
            if entry.info.writable:
                self._flush_entry(entry)

    def __enter__(self) -> GridStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close_all()

    # -- queries ------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    def has(self, name: str) -> bool:
        return name in self._entries

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def names(self) -> list[str]:
        return list(self._entries)

    def get(self, name: str) -> np.ndarray:
        """The grid as a plain ndarray sharing memory with the store (read-only if mode 'r')."""
        return self._entry(name).view

    def info(self, name: str) -> GridInfo:
        return self._entry(name).info

    def total_size_bytes(self) -> int:
        return sum(entry.info.nbytes for entry in self._entries.values())

    # -- in-place writes ----------------------------------------------------------------
    def write(self, name: str, data: object) -> None:
        """Replace the whole grid with ``data`` (same shape; cast to the grid's dtype)."""
        entry = self._writable_entry(name)
        array = np.asarray(data)
        if array.shape != entry.info.shape:
            raise InvalidGridSpecError(
                f"write to {name!r} needs shape {entry.info.shape}, got {array.shape}"
            )
        self._before_dense_write(entry)
        np.copyto(entry.view, array, casting="unsafe")

    def fill(self, name: str, value: float, *, region: tuple[slice, slice] | None = None) -> None:
        entry = self._writable_entry(name)
        fill_value = _validate_scalar(value, "value")
        if region is None:
            self._before_dense_write(entry)
        target = entry.view if region is None else entry.view[region]
        target.fill(fill_value)

    def scale(
        self, name: str, factor: float, *, region: tuple[slice, slice] | None = None
    ) -> None:
        """Multiply the grid (or one region of it) by ``factor`` in place."""
        entry = self._writable_entry(name)
        value = _validate_scalar(factor, "factor")
        target = entry.view if region is None else entry.view[region]
        np.multiply(target, value, out=target, casting="unsafe")

    def add_at(self, name: str, y: int, x: int, value: float) -> None:
        """Add ``value`` to one cell; the cell must lie inside the grid."""
        entry = self._writable_entry(name)
        row, col = validate_bound(y, "y"), validate_bound(x, "x")
        amount = _validate_scalar(value, "value")
        height, width = entry.info.shape
        if not (0 <= row < height and 0 <= col < width):
            raise InvalidGridSpecError(f"cell ({row}, {col}) is outside grid {name!r} {height}x{width}")
        entry.view[row, col] += amount

    def add_many(
        self,
        name: str,
        ys: object,
        xs: object,
        values: object,
        *,
        accumulate: bool = True,
        clip_max: float | None = None,
    ) -> int:
        """Add (or, with ``accumulate=False``, set: last wins) values at many cells at once.

        Points outside the grid are dropped; returns how many were applied.
        """
        entry = self._writable_entry(name)
        flat_index, amounts = flat_points(ys, xs, values, entry.info.shape, label=name)
        cap = None if clip_max is None else _validate_scalar(clip_max, "clip_max")
        if flat_index.size:
            scatter(entry.view.reshape(-1), flat_index, amounts, accumulate=accumulate, clip_max=cap)
        return int(flat_index.size)

    # -- reads --------------------------------------------------------------------------
    def get_window(
        self,
        name: str,
        y0: int,
        y1: int,
        x0: int,
        x1: int,
        *,
        normalize_by: float | None = None,
        out_dtype: object = np.float32,
    ) -> np.ndarray:
        """A fresh copy of ``[y0:y1, x0:x1]`` with zeros outside the grid."""
        fast = self._fast.get(name)
        if fast is not None and normalize_by is None and out_dtype is _F32_TYPE:
            # In bounds, float32 in and out: one slice copy, exactly what read_window does
            # after its checks. Floats, NaN, None and bools fail the comparisons, the slice
            # (TypeError) or the class test and take the checked path below, which raises
            # the typed error.
            view, height, width = fast
            try:
                if (
                    0 <= y0 <= y1 <= height
                    and 0 <= x0 <= x1 <= width
                    and y0.__class__ is not bool is not y1.__class__
                    and x0.__class__ is not bool is not x1.__class__
                ):
                    return view[y0:y1, x0:x1].copy()
            except TypeError:
                pass
        return read_window(
            self._entry(name).view, y0, y1, x0, x1, normalize_by=normalize_by, out_dtype=out_dtype
        )

    def get_windows(
        self,
        name: str,
        ys: object,
        xs: object,
        radius: int,
        *,
        normalize_by: float | None = None,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """``(N, 2r+1, 2r+1)`` float32 windows centred on each ``(ys[i], xs[i])``."""
        return read_windows(
            self._entry(name).view, ys, xs, radius, normalize_by=normalize_by, out=out
        )

    def get_planned_windows(
        self,
        name: str,
        plan: WindowPlan,
        *,
        normalize_by: float | None = None,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """``get_windows`` with centres planned once by ``farm_grids.windows.plan_windows``."""
        return read_planned_windows(self._entry(name).view, plan, normalize_by=normalize_by, out=out)

    # -- helpers ------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError(f"this {self.backend} store is closed")

    def _entry(self, name: str) -> _Entry:
        self._check_open()
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            known = ", ".join(sorted(self._entries)) or "none"
            raise GridNotFoundError(f"no grid named {name!r} (known: {known})") from None

    def _check_deletable(self, name: str) -> None:
        if not self._entries[name].info.writable:
            # A read-only reader shares a writer's files; deleting them would break the writer.
            raise ReadOnlyGridError(f"grid {name!r} was opened read-only; its file cannot be deleted")

    def _writable_entry(self, name: str) -> _Entry:
        entry = self._entry(name)
        if not entry.info.writable:
            raise ReadOnlyGridError(f"grid {name!r} was opened read-only (mode 'r')")
        return entry

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self._entries)} grids, {self.total_size_bytes()} bytes)"
