"""The public backend contract: what a grid-store backend implements, and what it may override.

A backend is a subclass of ``GridStore`` (zarr's ``Store`` is the model). It implements four
**required** region primitives and may override **optional** fast paths, each of which has a
default built from the primitives. Every public operation (``create``, ``get_window``,
``add_many``, ...) and all validation are written once above them: a primitive is always
called with checked arguments (an existing grid's entry, an in-bounds non-empty region, a
buffer of exactly the region's shape) and never needs to validate again.

Required
    ``allocate_grid``, ``read_region``, ``write_region``, ``release_grid``.
Optional (default built from the required ones)
    ``fill_region``, ``apply_region``, ``gather_windows``, ``read_cells``, ``write_cells``,
    ``scatter_cells``, ``scale_marked_tiles``, ``dense_array``, ``check_new_grid``,
    ``flush_grid``, ``record_change``; ``open`` / ``manifest_path`` / ``store_info`` for
    backends that can be reopened.
Capability flags (class attributes; callers check these, never the backend's name)
    ``file_backed``, ``supports_reopen``, ``layout``, ``in_memory``; ``writable`` is a property.

``farm_grids.testing.StoreSuite`` is the behaviour a backend must show; README, "Writing a
backend", walks through one.
"""

from __future__ import annotations

import abc
import os
from pathlib import Path
from typing import Callable, ClassVar, Iterable

import numpy as np

from farm_grids.errors import BackendCapabilityError, GridNotDenseError
from farm_grids.stores import defaults
from farm_grids.stores.entry import GridEntry, GridInfo, StoreInfo
from farm_grids.stores.validation import validate_storage_size
from farm_grids.windows import WindowPlan

__all__ = ["BACKEND_METHODS", "StoreBackend"]

# Every method of the contract, by kind (the docs and the contract's own test read this).
BACKEND_METHODS: dict[str, tuple[str, ...]] = {
    "required": ("allocate_grid", "read_region", "write_region", "release_grid"),
    "optional": ("fill_region", "apply_region", "gather_windows", "read_cells", "write_cells", "scatter_cells",
                 "scale_marked_tiles", "dense_array", "check_new_grid", "flush_grid", "record_change", "open",
                 "manifest_path", "store_info"),
}

# The contract's former private names: a backend still defining one would be silently ignored.
_RETIRED = {
    "_allocate": "allocate_grid", "_read_region": "read_region", "_write_region": "write_region",
    "_release": "release_grid", "_fill_region": "fill_region", "_apply_region": "apply_region",
    "_gather": "gather_windows", "_read_cells": "read_cells", "_write_cells": "write_cells",
    "_scatter": "scatter_cells", "_scale_tiles": "scale_marked_tiles", "_dense_array": "dense_array",
    "_check_new_shape": "check_new_grid", "_flush_entry": "flush_grid", "_record_change": "record_change",
    "_grid_info": "describe_grid",
}


class StoreBackend(abc.ABC):
    """The methods and flags a backend supplies; ``GridStore`` builds every public operation on them."""

    backend: ClassVar[str] = "abstract"  # the registered name: for messages and info, never for decisions
    # -- capability flags -----------------------------------------------------------------
    file_backed: ClassVar[bool] = False  # grids live in files a path names (GridInfo.path)
    supports_reopen: ClassVar[bool] = False  # ``open(manifest_path, mode)`` reopens a saved store
    layout: ClassVar[str] = "rows"  # "rows" (row-major), "tiles", "chunks": what fast paths suit it
    in_memory: ClassVar[bool] = True  # grids live in process memory: creating one checks the request limit
    default_mode: str

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        retired = sorted(set(_RETIRED) & set(vars(cls)))
        if retired:
            renamed = ", ".join(f"{old} -> {_RETIRED[old]}" for old in retired)
            raise TypeError(f"{cls.__name__} overrides retired backend hooks; the contract names them: {renamed}")

    @property
    def writable(self) -> bool:
        """Capability: whether this store accepts writes (its default mode is not "r")."""
        return self.default_mode != "r"

    # -- required primitives ------------------------------------------------------------
    @abc.abstractmethod
    def allocate_grid(self, name: str, shape: tuple[int, int], dtype: np.dtype, mode: str, fill: float) -> GridEntry:
        """Required. Make a new grid filled with ``fill`` and return its entry.

        ``fill`` already fits ``dtype``. Build the entry's ``info`` with ``describe_grid``; put
        the grid's dense ndarray in ``entry.array`` if the backend keeps one (else None) and
        anything of the backend's own in ``entry.state``.
        """

    @abc.abstractmethod
    def read_region(self, entry: GridEntry, rows: slice, cols: slice, out: np.ndarray) -> None:
        """Required. Copy the in-bounds ``grid[rows, cols]`` into ``out`` (its exact shape), cast to ``out.dtype``."""

    @abc.abstractmethod
    def write_region(self, entry: GridEntry, rows: slice, cols: slice, data: np.ndarray) -> None:
        """Required. Write ``data`` (checked, the region's exact shape) over the in-bounds ``grid[rows, cols]``, cast unsafely."""

    @abc.abstractmethod
    def release_grid(self, entry: GridEntry, delete_file: bool) -> None:
        """Required. Drop a grid being closed (already flushed) and, with ``delete_file``, its storage."""

    # -- optional fast paths --------------------------------------------------------------
    def fill_region(self, entry: GridEntry, rows: slice, cols: slice, value: float) -> None:
        """Optional; default: ``write_region`` of a full block. Set the in-bounds ``grid[rows, cols]`` to ``value``."""
        shape = (rows.stop - rows.start, cols.stop - cols.start)
        self.write_region(entry, rows, cols, np.full(shape, value, dtype=entry.dtype))

    def apply_region(self, entry: GridEntry, rows: slice, cols: slice, op: Callable[[np.ndarray], None]) -> None:
        """Optional; default: ``read_region``, ``op``, ``write_region``. Apply the in-place elementwise ``op`` to ``grid[rows, cols]``."""
        block = np.empty((rows.stop - rows.start, cols.stop - cols.start), dtype=entry.dtype)
        self.read_region(entry, rows, cols, block)
        op(block)
        self.write_region(entry, rows, cols, block)

    def gather_windows(self, entry: GridEntry, plan: WindowPlan, normalize_by: float | None,
                       out: np.ndarray | None) -> np.ndarray:
        """Optional; default: one ``read_region`` per window. The ``(N, S, S)`` float32 windows ``plan`` places.

        Outside cells read zero; divide by ``normalize_by`` when given; fill ``out`` when given.
        """
        return defaults.gather(self.read_region, entry, plan, normalize_by, out)

    def read_cells(self, entry: GridEntry, flat: np.ndarray) -> np.ndarray:
        """Optional; default: ``read_region`` per cell. The values at in-bounds row-major indices ``flat``, in the grid's dtype."""
        return defaults.read_cells(self.read_region, entry, flat)

    def write_cells(self, entry: GridEntry, flat: np.ndarray, values: np.ndarray) -> None:
        """Optional; default: ``write_region`` per cell. Set the cells at in-bounds row-major indices ``flat``."""
        defaults.write_cells(self.write_region, entry, flat, values)

    def scatter_cells(self, entry: GridEntry, flat: np.ndarray, amounts: np.ndarray, accumulate: bool,
                      clip_max: float | None) -> None:
        """Optional; default: ``read_cells`` then ``write_cells``. Add (or set: last wins) ``amounts`` at ``flat``, capped at ``clip_max``."""
        defaults.scatter(self.read_cells, self.write_cells, flat, amounts, accumulate, clip_max, entry)

    def scale_marked_tiles(self, entry: GridEntry, mask: np.ndarray, tile_size: int, factor: object,
                           floor: float) -> np.ndarray:
        """Optional; default: ``apply_region`` per run of marked tiles. Multiply the marked tiles by ``factor``.

        With ``floor > 0`` a tile whose max |value| ends below it is zeroed; returns the mask of
        tiles zeroed that way.
        """
        return defaults.scale_tiles(self.apply_region, self.read_region, self.fill_region, entry, mask, tile_size,
                                    factor, floor)

    def dense_array(self, entry: GridEntry) -> np.ndarray:
        """Optional; default: ``entry.array``, or GridNotDenseError without one. What ``get(name)`` returns."""
        if entry.array is None:
            raise GridNotDenseError(
                f"the {self.backend} backend keeps {entry.name!r} in {self.layout}, not one array: "
                "use read() for a dense copy, or store operations to change it"
            )
        return entry.array

    def check_new_grid(self, name: str, shape: tuple[int, int], dtype: np.dtype) -> None:
        """Optional; default: the address-space size check. Refuse a grid the backend cannot hold, before anything exists."""
        validate_storage_size(shape, dtype, 1, f"grid {name!r}")

    def flush_grid(self, entry: GridEntry) -> None:
        """Optional; default: nothing (RAM). Make a writable grid's writes durable."""

    def record_change(self, *, added: Iterable[GridInfo] = (), removed: Iterable[str] = (),
                      closing: bool = False) -> None:
        """Optional; default: nothing. Persist a change to the set of grids BEFORE it takes effect (memmap: the manifest).

        Raising here leaves the store as it was: the grid is not created, not deleted.
        """

    @property
    def manifest_path(self) -> Path | None:
        """Optional; default: None. The file or location another process reopens this store from."""
        return None

    @classmethod
    def open(cls, manifest_path: str | os.PathLike[str], mode: str = "r+", **options: object) -> StoreBackend:
        """Optional (``supports_reopen`` backends); default: BackendCapabilityError. Reopen a saved store."""
        raise BackendCapabilityError(f"the {cls.backend} backend keeps nothing to reopen (supports_reopen is False)")

    def store_info(self) -> StoreInfo:
        """Optional; default: backend and mode. The store as a whole (file stores add generation and clean flag)."""
        return StoreInfo(backend=self.backend, mode=self.default_mode)

    # -- for backends -------------------------------------------------------------------
    def describe_grid(self, name: str, shape: tuple[int, int], dtype: np.dtype, mode: str,
                      path: Path | None = None) -> GridInfo:
        """The ``GridInfo`` of a new grid, for ``allocate_grid`` (``path`` for file-backed grids)."""
        return GridInfo(name=name, shape=shape, dtype=dtype.name, mode=mode, backend=self.backend,
                        nbytes=shape[0] * shape[1] * dtype.itemsize, path=path)
