"""The grid-store interface: validation and every shared operation, written once over a few primitives."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Iterable, Iterator

import numpy as np

from farm_grids.errors import (
    GridExistsError,
    GridNotFoundError,
    InvalidGridSpecError,
    ReadOnlyGridError,
    StoreClosedError,
)
from farm_grids.limits import check_request, max_request_bytes
from farm_grids.points import flat_points, scatter
from farm_grids.stores import blockops
from farm_grids.stores.extents import cell_extents, plan_extents, region_extents
from farm_grids.stores.validation import (
    SUPPORTED_DTYPES,
    VALID_MODES,
    validate_dtype,
    validate_mode,
    validate_name,
    validate_out_dtype,
    validate_region,
    validate_shape,
)
from farm_grids.values import checked_array, checked_scalar, validate_finite
from farm_grids.windows import (
    WindowPlan,
    plan_windows,
    read_planned_windows,
    read_window,
    validate_bound,
    validate_centres,
)

__all__ = ["GridInfo", "GridStore", "StoreInfo", "SUPPORTED_DTYPES", "VALID_MODES", "validate_dtype"]

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


@dataclass(frozen=True)
class StoreInfo:
    """What a store knows about itself.

    ``clean`` is False when the store was reopened after a writer that never closed it
    cleanly (a crash or a kill): writes that were not flushed before it may be torn.
    """

    backend: str
    mode: str
    clean: bool = True
    generation: int = 0
    manifest_path: Path | None = None
    writer_active: bool = False


@dataclass
class _Entry:
    info: GridInfo
    # The backing array and a plain-ndarray view of it: reads go through the view so numpy
    # never dispatches through an ndarray subclass.
    backing: np.ndarray
    view: np.ndarray


class GridStore(abc.ABC):
    """Named 2-D grids behind one interface; backends implement allocation and release.

    Every write validates and converts its whole input first, then reserves what it will
    touch (``_reserve``: disk blocks for file backends), then writes: a bad value or a full
    disk raises a typed error with no cell changed.
    """

    backend: str = "abstract"
    # Whether grids live in process memory: their size is then bounded by the request limit.
    in_memory: bool = True
    # Whether writes must reserve what they touch first (file backends).
    reserves: bool = False

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

    def _reserve(self, entry: _Entry, starts: np.ndarray | None, ends: np.ndarray | None) -> None:
        """Secure what a write of byte extents ``[starts, ends)`` (None: all) will touch."""

    def _reserve_tiles(self, entry: _Entry, mask: np.ndarray, tile_size: int) -> None:
        """``_reserve`` for the tiles ``mask`` marks (file backends cache it per tile size)."""

    def _before_dense_write(self, entry: _Entry) -> None:
        """Hook before every cell of a grid is written (the memmap store picks huge pages)."""

    def _needs_read_reserve(self, entry: _Entry) -> bool:
        """Whether reads must reserve first (tmpfs, where a hole read allocates)."""
        return False

    def _record_change(self, *, added: Iterable[GridInfo] = (), removed: Iterable[str] = (),
                       closing: bool = False) -> None:
        """Persist a change to the set of grids BEFORE it takes effect (memmap: the manifest).

        Raising here leaves the store as it was: the grid is not created, not deleted.
        """

    def _after_close(self) -> None:
        """Hook after every grid was released by ``close_all`` (the memmap store drops its locks)."""

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
        validate_name(name)
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
        fill_value = checked_scalar(fill, resolved, "fill")
        nbytes = dims[0] * dims[1] * resolved.itemsize
        if self.in_memory:
            check_request(nbytes, f"grid {name!r} {dims} {resolved.name} in memory")
        backing, path = self._allocate(name, dims, resolved, chosen, fill_value)
        entry = self._new_entry(name, backing, path, chosen)
        try:
            self._record_change(added=[entry.info])
        except BaseException:
            self._release(entry, True)
            raise
        self._register(entry)
        return entry.view

    def _new_entry(self, name: str, backing: np.ndarray, path: Path | None, mode: str) -> _Entry:
        info = GridInfo(
            name=name,
            shape=tuple(backing.shape),  # type: ignore[arg-type]
            dtype=backing.dtype.name,
            mode=mode,
            backend=self.backend,
            nbytes=int(backing.nbytes),
            path=path,
        )
        return _Entry(info=info, backing=backing, view=np.asarray(backing))

    def _register(self, entry: _Entry) -> None:
        name = entry.info.name
        self._entries[name] = entry
        # Only grids within the request limit take the unchecked single-window path: an
        # in-bounds window of them can never be larger than the limit.
        if (
            entry.view.dtype == _FLOAT32
            and entry.info.nbytes <= max_request_bytes()
            and not self._needs_read_reserve(entry)
        ):
            self._fast[name] = (entry.view, entry.info.shape[0], entry.info.shape[1])

    def _unregister(self, name: str) -> _Entry:
        self._fast.pop(name, None)
        return self._entries.pop(name)

    def close(self, name: str, *, delete_file: bool = False) -> None:
        """Flush (when writable) and release one grid; optionally delete its file."""
        entry = self._entry(name)
        if delete_file:
            self._check_deletable(name)
        if entry.info.writable:
            self._flush_entry(entry)
        # Recorded first: a kill after this line leaves a manifest without the grid, never
        # a manifest naming a deleted file.
        self._record_change(removed=[name] if delete_file else ())
        self._release(self._unregister(name), delete_file)

    def close_all(self, *, delete_files: bool = False) -> None:
        """Close every grid; the store accepts no further calls afterwards."""
        if self._closed:
            return
        names = list(self._entries)
        if delete_files:
            for name in names:
                self._check_deletable(name)
        for name in names:
            if self._entries[name].info.writable:
                self._flush_entry(self._entries[name])
        self._record_change(removed=names if delete_files else (), closing=True)
        for name in names:
            self._release(self._unregister(name), delete_files)
        self._closed = True
        self._after_close()

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

    def has(self, name: object) -> bool:
        return isinstance(name, str) and name in self._entries

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def names(self) -> list[str]:
        return list(self._entries)

    def get(self, name: str) -> np.ndarray:
        """The grid as a plain ndarray sharing memory with the store (read-only if mode 'r')."""
        return self._entry(name).view

    def info(self, name: str) -> GridInfo:
        return self._entry(name).info

    def store_info(self) -> StoreInfo:
        """The store as a whole: backend, mode and, for file stores, generation and clean flag."""
        return StoreInfo(backend=self.backend, mode=self.default_mode)

    def total_size_bytes(self) -> int:
        return sum(entry.info.nbytes for entry in self._entries.values())

    # -- in-place writes ----------------------------------------------------------------
    def write(self, name: str, data: object) -> None:
        """Replace the whole grid with ``data`` (same shape; cast to the grid's dtype)."""
        entry = self._writable_entry(name)
        dtype = entry.view.dtype
        array = checked_array(data, dtype, entry.info.shape, f"data for {name!r}")
        self._reserve(entry, None, None)
        self._before_dense_write(entry)
        np.copyto(entry.view, array, casting="unsafe")

    def fill(self, name: str, value: float, *, region: tuple[slice, slice] | None = None) -> None:
        entry = self._writable_entry(name)
        fill_value = checked_scalar(value, entry.view.dtype, "value")
        target = self._reserved_target(entry, region)
        if region is None:
            self._before_dense_write(entry)
        target.fill(fill_value)

    def scale(
        self, name: str, factor: float, *, region: tuple[slice, slice] | None = None
    ) -> None:
        """Multiply the grid (or one region of it) by ``factor`` in place."""
        entry = self._writable_entry(name)
        dtype = entry.view.dtype
        value = validate_finite(factor, "factor")
        if dtype.kind == "f":
            checked_scalar(value, dtype, "factor")
        target = self._reserved_target(entry, region)
        np.multiply(target, value, out=target, casting="unsafe")

    def scale_tiles(
        self, name: str, mask: np.ndarray, tile_size: int, factor: float, *, floor: float = 0.0
    ) -> np.ndarray:
        """Multiply the ``tile_size``-square tiles ``mask`` marks by ``factor`` (in the grid's dtype).

        With ``floor > 0`` a tile whose max |value| ends below it is zeroed; returns the mask
        of tiles zeroed that way. Cost follows the marked tiles, not the grid.
        """
        entry = self._writable_entry(name)
        mask = blockops.validate_tile_mask(mask, entry.info.shape, tile_size)
        dtype = entry.view.dtype
        value = checked_scalar(factor, dtype, "factor") if dtype.kind == "f" else validate_finite(factor, "factor")
        cutoff = validate_finite(floor, "floor")
        if self.reserves and mask.any():
            self._reserve_tiles(entry, mask, tile_size)
        return blockops.scale_tiles(entry.view, mask, tile_size, dtype.type(value), cutoff)

    def add_at(self, name: str, y: int, x: int, value: float) -> None:
        """Add ``value`` to one cell; the cell must lie inside the grid."""
        entry = self._writable_entry(name)
        row, col = validate_bound(y, "y"), validate_bound(x, "x")
        amount = checked_scalar(value, entry.view.dtype, "value")
        height, width = entry.info.shape
        if not (0 <= row < height and 0 <= col < width):
            raise InvalidGridSpecError(f"cell ({row}, {col}) is outside grid {name!r} {height}x{width}")
        if self.reserves:
            self._reserve(entry, *cell_extents(np.array([row * width + col]), entry.view.itemsize))
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
        dtype = entry.view.dtype
        flat_index, amounts = flat_points(ys, xs, values, entry.info.shape, label=name, dtype=dtype)
        cap = None if clip_max is None else checked_scalar(clip_max, dtype, "clip_max")
        if flat_index.size:
            if self.reserves:
                self._reserve(entry, *cell_extents(flat_index, dtype.itemsize))
            scatter(entry.view.reshape(-1), flat_index, amounts, accumulate=accumulate, clip_max=cap)
        return int(flat_index.size)

    def _reserved_target(self, entry: _Entry, region: object) -> np.ndarray:
        """The view a region write will touch, after reserving it."""
        if region is None:
            self._reserve(entry, None, None)
            return entry.view
        rows, cols = validate_region(region, entry.info.shape)
        if self.reserves:
            self._reserve(entry, *region_extents(entry.info.shape, entry.view.itemsize, rows, cols))
        return entry.view[rows, cols]

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
        fast = self._fast.get(name)  # type: ignore[call-overload]
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
        entry = self._entry(name)
        resolved = validate_out_dtype(out_dtype)
        bounds = [validate_bound(v, label) for v, label in ((y0, "y0"), (y1, "y1"), (x0, "x0"), (x1, "x1"))]
        cells = max(0, bounds[1] - bounds[0]) * max(0, bounds[3] - bounds[2])
        check_request(cells * resolved.itemsize, f"window [{y0}:{y1}, {x0}:{x1}] of {name!r}")
        if self._needs_read_reserve(entry):
            rows, cols = slice(max(bounds[0], 0), bounds[1]), slice(max(bounds[2], 0), bounds[3])
            self._reserve(entry, *region_extents(entry.info.shape, entry.view.itemsize, rows, cols))
        return read_window(entry.view, *bounds, normalize_by=normalize_by, out_dtype=resolved)

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
        entry = self._entry(name)
        plan = plan_windows(entry.info.shape, ys, xs, radius)
        return self._gather(entry, plan, normalize_by, out)

    def get_planned_windows(
        self,
        name: str,
        plan: WindowPlan,
        *,
        normalize_by: float | None = None,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """``get_windows`` with centres planned once by ``farm_grids.windows.plan_windows``."""
        return self._gather(self._entry(name), plan, normalize_by, out)

    def _gather(
        self, entry: _Entry, plan: WindowPlan, normalize_by: float | None, out: np.ndarray | None
    ) -> np.ndarray:
        if self._needs_read_reserve(entry) and isinstance(plan, WindowPlan) and plan.shape == entry.info.shape:
            self._reserve(entry, *plan_extents(plan, entry.view.itemsize))
        return read_planned_windows(entry.view, plan, normalize_by=normalize_by, out=out)

    def get_cells(self, name: str, ys: object, xs: object) -> np.ndarray:
        """The values at cells ``(ys[i], xs[i])`` in the grid's dtype; outside cells read zero."""
        entry = self._entry(name)
        rows, cols = validate_centres(ys, xs)
        height, width = entry.info.shape
        inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
        result = np.zeros(rows.shape, dtype=entry.view.dtype)
        flat = rows[inside] * width + cols[inside]
        if self._needs_read_reserve(entry) and flat.size:
            self._reserve(entry, *cell_extents(flat, entry.view.itemsize))
        result[inside] = entry.view.reshape(-1)[flat]
        return result

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
