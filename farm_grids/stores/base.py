"""The store contract: a small abstract core of region primitives, every public operation written once above it.

(The read and write operations themselves live in ``operations.py``; this module holds the
primitives, the hooks, the lifecycle and the queries.)

A backend implements four primitives (zarr's ``Store`` is the model):

- ``_allocate(name, shape, dtype, mode, fill) -> GridEntry``: make a new grid;
- ``_read_region(entry, rows, cols, out)``: copy an in-bounds region into ``out`` (casting);
- ``_write_region(entry, rows, cols, data)``: write an in-bounds region (data already checked);
- ``_release(entry, delete_file)``: drop a closed grid (and its file if asked).

Optional fast paths have defaults built from those primitives: ``_gather`` (a batched window
gather), ``_fill_region`` / ``_apply_region`` / ``_scale_tiles`` (elementwise block
operations), ``_read_cells`` / ``_write_cells`` / ``_scatter`` (points). The array backends
(RAM, sparse RAM, memmap; ``DenseArrayStore``) implement them over their one ndarray; a
tiled or chunked backend implements them over its tiles.

Capability flags say what a backend can do: ``file_backed``, ``supports_reopen`` (the
``open(manifest, mode)`` classmethod and ``manifest_path``), ``writable`` and ``layout``.
``get(name)`` returns the dense array where the backend has one; a backend without one
raises GridNotDenseError (``read(name)`` always returns a fresh dense copy). Nothing outside
``farm_grids/stores/`` reads a backend's state or writes through ``get()``: every change of
grid data is a store operation, which validates its whole input, reserves what it will touch
(``_reserve``: disk blocks for file backends), and only then writes.
"""

from __future__ import annotations

import abc
import os
from pathlib import Path
from types import TracebackType
from typing import Callable, ClassVar, Iterable, Iterator

import numpy as np

from farm_grids.errors import (
    BackendCapabilityError,
    GridExistsError,
    GridNotDenseError,
    GridNotFoundError,
    InvalidGridSpecError,
    ReadOnlyGridError,
    StoreClosedError,
)
from farm_grids.limits import check_request
from farm_grids.stores import defaults
from farm_grids.stores.operations import GridOperations
from farm_grids.stores.entry import GridEntry, GridInfo, StoreInfo
from farm_grids.stores.extents import cell_extents, plan_extents, region_extents
from farm_grids.stores.validation import (
    validate_dtype,
    validate_label,
    validate_mode,
    validate_name,
    validate_shape,
    validate_storage_size,
)
from farm_grids.values import checked_scalar
from farm_grids.windows import WindowPlan

__all__ = ["GridEntry", "GridInfo", "GridStore", "StoreInfo"]

Region = tuple[slice, slice]


class GridStore(GridOperations, abc.ABC):
    """Named 2-D grids behind one interface; see the module docstring for the contract."""

    backend: ClassVar[str] = "abstract"
    # Capability flags: what callers may rely on, checked instead of the backend's name.
    file_backed: ClassVar[bool] = False
    supports_reopen: ClassVar[bool] = False
    layout: ClassVar[str] = "rows"
    # Whether grids live in process memory: their size is then bounded by the request limit.
    in_memory: ClassVar[bool] = True
    # Whether writes must reserve what they touch first (file backends).
    reserves: ClassVar[bool] = False

    def __init__(self, *, default_dtype: object = "float32", default_mode: str = "w+") -> None:
        self.default_dtype = validate_dtype(default_dtype)
        self.default_mode = validate_mode(default_mode)
        self._entries: dict[str, GridEntry] = {}
        self._closed = False

    # -- the primitives -----------------------------------------------------------------
    @abc.abstractmethod
    def _allocate(self, name: str, shape: tuple[int, int], dtype: np.dtype, mode: str, fill: float) -> GridEntry:
        """Make a new grid filled with ``fill`` (a value already checked to fit ``dtype``)."""

    @abc.abstractmethod
    def _read_region(self, entry: GridEntry, rows: slice, cols: slice, out: np.ndarray) -> None:
        """Copy the in-bounds ``grid[rows, cols]`` into ``out`` (its shape; cast to its dtype)."""

    @abc.abstractmethod
    def _write_region(self, entry: GridEntry, rows: slice, cols: slice, data: np.ndarray) -> None:
        """Write ``data`` (already checked; cast unsafely) over the in-bounds ``grid[rows, cols]``."""

    @abc.abstractmethod
    def _release(self, entry: GridEntry, delete_file: bool) -> None:
        """Drop a closed grid (and its file if asked)."""

    # -- optional fast paths (defaults built from the primitives) -----------------------
    def _fill_region(self, entry: GridEntry, rows: slice, cols: slice, value: float) -> None:
        shape = (rows.stop - rows.start, cols.stop - cols.start)
        self._write_region(entry, rows, cols, np.full(shape, value, dtype=entry.dtype))

    def _apply_region(self, entry: GridEntry, rows: slice, cols: slice, op: Callable[[np.ndarray], None]) -> None:
        """Apply the in-place elementwise ``op`` to ``grid[rows, cols]``."""
        block = np.empty((rows.stop - rows.start, cols.stop - cols.start), dtype=entry.dtype)
        self._read_region(entry, rows, cols, block)
        op(block)
        self._write_region(entry, rows, cols, block)

    def _gather(self, entry: GridEntry, plan: WindowPlan, normalize_by: float | None, out: np.ndarray | None) -> np.ndarray:
        return defaults.gather(self._read_region, entry, plan, normalize_by, out)

    def _read_cells(self, entry: GridEntry, flat: np.ndarray) -> np.ndarray:
        return defaults.read_cells(self._read_region, entry, flat)

    def _write_cells(self, entry: GridEntry, flat: np.ndarray, values: np.ndarray) -> None:
        defaults.write_cells(self._write_region, entry, flat, values)

    def _scatter(self, entry: GridEntry, flat: np.ndarray, amounts: np.ndarray, accumulate: bool,
                 clip_max: float | None) -> None:
        defaults.scatter(self._read_cells, self._write_cells, flat, amounts, accumulate, clip_max, entry)

    def _scale_tiles(self, entry: GridEntry, mask: np.ndarray, tile_size: int, factor: object, floor: float) -> np.ndarray:
        return defaults.scale_tiles(self._apply_region, self._read_region, self._fill_region, entry, mask, tile_size,
                                    factor, floor)

    def _dense_array(self, entry: GridEntry) -> np.ndarray:
        """What ``get`` returns: the dense array; a backend without one refuses."""
        if entry.array is None:
            raise GridNotDenseError(
                f"the {self.backend} backend keeps {entry.name!r} in {self.layout}, not one array: "
                "use read() for a dense copy, or store operations to change it"
            )
        return entry.array

    # -- hooks --------------------------------------------------------------------------
    def _check_new_shape(self, name: str, shape: tuple[int, int], dtype: np.dtype) -> None:
        """Refuse a grid the backend cannot hold (size, tile side) before anything exists."""
        validate_storage_size(shape, dtype, 1, f"grid {name!r}")

    def _flush_entry(self, entry: GridEntry) -> None:
        """Make the grid's writes durable; RAM has nothing to do."""

    def _reserve(self, entry: GridEntry, starts: np.ndarray | None, ends: np.ndarray | None) -> None:
        """Secure what a write of byte extents ``[starts, ends)`` (None: all) will touch."""

    def _reserve_cells(self, entry: GridEntry, flat: np.ndarray) -> None:
        """``_reserve`` for the cells at row-major flat indices ``flat`` (file backends: one lookup)."""
        self._reserve(entry, *self._cell_bytes(entry, flat))

    def _reserve_tiles(self, entry: GridEntry, mask: np.ndarray, tile_size: int) -> None:
        """``_reserve`` for the tiles ``mask`` marks (file backends cache it per tile size)."""

    def _before_dense_write(self, entry: GridEntry) -> None:
        """Hook before every cell of a grid is written (the memmap store picks huge pages)."""

    def _before_gather(self, entry: GridEntry, plan: WindowPlan) -> None:
        """Hook before a batched gather (the memmap store prefetches exactly the pages it needs)."""

    # Byte extents an access touches in the backend's storage (row-major by default): what
    # ``_reserve`` secures and what a prefetch reads. A tile-major backend overrides them.
    def _region_bytes(self, entry: GridEntry, rows: slice, cols: slice) -> tuple[np.ndarray, np.ndarray]:
        return region_extents(entry.shape, entry.dtype.itemsize, rows, cols)

    def _cell_bytes(self, entry: GridEntry, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return cell_extents(flat, entry.dtype.itemsize)

    def _plan_bytes(self, entry: GridEntry, plan: WindowPlan) -> tuple[np.ndarray, np.ndarray]:
        return plan_extents(plan, entry.dtype.itemsize)

    def _needs_read_reserve(self, entry: GridEntry) -> bool:
        """Whether reads must reserve first (tmpfs, where a hole read allocates)."""
        return False

    def _record_change(self, *, added: Iterable[GridInfo] = (), removed: Iterable[str] = (),
                       closing: bool = False) -> None:
        """Persist a change to the set of grids BEFORE it takes effect (memmap: the manifest).

        Raising here leaves the store as it was: the grid is not created, not deleted.
        """

    def _after_close(self) -> None:
        """Hook after every grid was released by ``close_all`` (the memmap store drops its locks)."""

    def _register(self, entry: GridEntry) -> None:
        self._entries[entry.name] = entry

    def _unregister(self, name: str) -> GridEntry:
        return self._entries.pop(name)

    def _grid_info(self, name: str, shape: tuple[int, int], dtype: np.dtype, mode: str, path: Path | None) -> GridInfo:
        return GridInfo(name=name, shape=shape, dtype=dtype.name, mode=mode, backend=self.backend,
                        nbytes=shape[0] * shape[1] * dtype.itemsize, path=path)

    # -- reopening ----------------------------------------------------------------------
    @property
    def writable(self) -> bool:
        return self.default_mode != "r"

    @property
    def manifest_path(self) -> Path | None:
        """The file another process reopens this store from; None where there is none."""
        return None

    @classmethod
    def open(cls, manifest_path: str | os.PathLike[str], mode: str = "r+", **options: object) -> GridStore:
        """Reopen a saved store (``supports_reopen`` backends only)."""
        raise BackendCapabilityError(f"the {cls.backend} backend keeps nothing to reopen (supports_reopen is False)")

    # -- lifecycle ----------------------------------------------------------------------
    def create(self, name: str, shape: tuple[int, int], *, dtype: object = None, mode: str | None = None,
               fill: float = 0.0) -> np.ndarray | None:
        """Create a grid filled with ``fill``; returns ``get(name)`` (None without a dense array)."""
        self._check_open()
        validate_name(name)
        # Backends put these labels into file and object names: checked here, once for all of them.
        validate_label(getattr(self, "namespace", None), "namespace")
        validate_label(getattr(self, "simulation_id", None), "simulation_id")
        if name in self._entries:
            raise GridExistsError(f"grid {name!r} already exists in this {self.backend} store")
        dims = validate_shape(shape)
        resolved = self.default_dtype if dtype is None else validate_dtype(dtype)
        chosen = validate_mode(self.default_mode if mode is None else mode)
        if chosen == "r":
            raise InvalidGridSpecError(
                f"mode 'r' cannot create grid {name!r}: a new grid must be writable "
                "(reopen existing files read-only with open(manifest, mode='r'))"
            )
        fill_value = checked_scalar(fill, resolved, "fill")
        self._check_new_shape(name, dims, resolved)
        if self.in_memory:
            check_request(dims[0] * dims[1] * resolved.itemsize, f"grid {name!r} {dims} {resolved.name} in memory")
        entry = self._allocate(name, dims, resolved, chosen, fill_value)
        try:
            self._record_change(added=[entry.info])
        except BaseException:
            self._release(entry, True)
            raise
        self._register(entry)
        # What get() gives (a backend may hand out a read-only copy), never the array behind it.
        return None if entry.array is None else self._dense_array(entry)

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
        for entry in [self._entry(name)] if name is not None else list(self._entries.values()):
            if entry.info.writable:
                self._flush_entry(entry)

    def __enter__(self) -> GridStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
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
        """The grid's dense array, sharing memory with the store (read-only in mode 'r').

        Read it freely; change it only through store operations. A backend without a dense
        array raises GridNotDenseError.
        """
        return self._dense_array(self._entry(name))

    def read(self, name: str) -> np.ndarray:
        """A fresh dense copy of the whole grid in its own dtype, on every backend."""
        entry = self._entry(name)
        check_request(entry.info.nbytes, f"a copy of grid {name!r}")
        out = np.empty(entry.shape, dtype=entry.dtype)
        self._read_region(entry, slice(0, entry.shape[0]), slice(0, entry.shape[1]), out)
        return out

    def info(self, name: str) -> GridInfo:
        return self._entry(name).info

    def store_info(self) -> StoreInfo:
        """The store as a whole: backend, mode and, for file stores, generation and clean flag."""
        return StoreInfo(backend=self.backend, mode=self.default_mode)

    def total_size_bytes(self) -> int:
        return sum(entry.info.nbytes for entry in self._entries.values())

    # -- helpers ------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError(f"this {self.backend} store is closed")

    def _entry(self, name: str) -> GridEntry:
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

    def _writable_entry(self, name: str) -> GridEntry:
        entry = self._entry(name)
        if not entry.info.writable:
            raise ReadOnlyGridError(f"grid {name!r} was opened read-only (mode 'r')")
        return entry

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self._entries)} grids, {self.total_size_bytes()} bytes)"
