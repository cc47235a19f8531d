"""GridStore: every public read and write of a store, written once over the backend contract.

Each operation validates and converts its whole input, reserves what it will touch, and only
then calls a primitive or fast path of the contract (``contract.py``, where a backend author
starts). The lifecycle and lookups are ``GridCatalog``'s (``catalog.py``); nothing outside
``farm_grids/stores/`` reads a backend's state or writes through ``get()``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from farm_grids.errors import InvalidGridSpecError
from farm_grids.limits import check_request
from farm_grids.points import flat_points
from farm_grids.stores import defaults
from farm_grids.stores.catalog import GridCatalog
from farm_grids.stores.entry import GridEntry, GridInfo, StoreInfo
from farm_grids.stores.extents import cell_extents, plan_extents, region_extents
from farm_grids.stores.validation import validate_out_dtype, validate_region
from farm_grids.values import checked_array, checked_scalar, validate_finite
from farm_grids.windows import WindowPlan, plan_windows, validate_bound, validate_centres, validate_normalizer

__all__ = ["GridEntry", "GridInfo", "GridStore", "Region", "StoreInfo"]

Region = tuple[slice, slice]


class GridStore(GridCatalog):
    """Named 2-D grids behind one interface: a backend subclasses it and implements the contract."""

    # Internal: whether writes must reserve what they touch first (file backends). This flag and
    # the hooks below are how farm_grids' own memmap store secures disk blocks and prefetches;
    # they are not part of the backend contract.
    _reserves: ClassVar[bool] = False

    # -- internal access hooks ----------------------------------------------------------
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

    # -- writes -------------------------------------------------------------------------
    def write(self, name: str, data: object) -> None:
        """Replace the whole grid with ``data`` (same shape; cast to the grid's dtype)."""
        entry = self._writable_entry(name)
        array = checked_array(data, entry.dtype, entry.shape, f"data for {name!r}")
        self._reserve(entry, None, None)
        self._before_dense_write(entry)
        self.write_region(entry, slice(0, entry.shape[0]), slice(0, entry.shape[1]), array)

    def fill(self, name: str, value: float, *, region: Region | None = None) -> None:
        """Set every cell of the grid (or of one region) to ``value``."""
        entry = self._writable_entry(name)
        fill_value = checked_scalar(value, entry.dtype, "value")
        rows, cols = self._reserved_region(entry, region)
        if region is None:
            self._before_dense_write(entry)
        if rows.stop > rows.start and cols.stop > cols.start:
            self.fill_region(entry, rows, cols, fill_value)

    def scale(self, name: str, factor: float, *, region: Region | None = None) -> None:
        """Multiply the grid (or one region of it) by ``factor`` in place."""
        entry = self._writable_entry(name)
        value = validate_finite(factor, "factor")
        if entry.dtype.kind == "f":
            checked_scalar(value, entry.dtype, "factor")
        rows, cols = self._reserved_region(entry, region)
        if rows.stop > rows.start and cols.stop > cols.start:
            self.apply_region(entry, rows, cols, lambda block: np.multiply(block, value, out=block, casting="unsafe"))

    def scale_tiles(self, name: str, mask: np.ndarray, tile_size: int, factor: float, *,
                    floor: float = 0.0) -> np.ndarray:
        """Multiply the ``tile_size``-square tiles ``mask`` marks by ``factor`` (in the grid's dtype).

        With ``floor > 0`` a tile whose max |value| ends below it is zeroed; returns the mask
        of tiles zeroed that way. Cost follows the marked tiles, not the grid.
        """
        entry = self._writable_entry(name)
        mask = defaults.validate_tile_mask(mask, entry.shape, tile_size)
        dtype = entry.dtype
        value = checked_scalar(factor, dtype, "factor") if dtype.kind == "f" else validate_finite(factor, "factor")
        cutoff = validate_finite(floor, "floor")
        if self._reserves and mask.any():
            self._reserve_tiles(entry, mask, int(tile_size))
        return self.scale_marked_tiles(entry, mask, int(tile_size), dtype.type(value) if dtype.kind == "f" else value, cutoff)

    def add_at(self, name: str, y: int, x: int, value: float) -> None:
        """Add ``value`` to one cell; the cell must lie inside the grid."""
        entry = self._writable_entry(name)
        row, col = validate_bound(y, "y"), validate_bound(x, "x")
        amount = checked_scalar(value, entry.dtype, "value")
        height, width = entry.shape
        if not (0 <= row < height and 0 <= col < width):
            raise InvalidGridSpecError(f"cell ({row}, {col}) is outside grid {name!r} {height}x{width}")
        flat = np.array([row * width + col], dtype=np.intp)
        if self._reserves:
            self._reserve_cells(entry, flat)
        self.scatter_cells(entry, flat, np.array([amount], dtype=entry.dtype), True, None)

    def add_many(self, name: str, ys: object, xs: object, values: object, *, accumulate: bool = True,
                 clip_max: float | None = None) -> int:
        """Add (or, with ``accumulate=False``, set: last wins) values at many cells at once.

        Points outside the grid are dropped; returns how many were applied.
        """
        entry = self._writable_entry(name)
        dtype = entry.dtype
        flat, amounts = flat_points(ys, xs, values, entry.shape, label=name, dtype=dtype)
        cap = None if clip_max is None else checked_scalar(clip_max, dtype, "clip_max")
        if flat.size:
            if self._reserves:
                self._reserve_cells(entry, flat)
            self.scatter_cells(entry, flat, amounts, bool(accumulate), cap)
        return int(flat.size)

    def _reserved_region(self, entry: GridEntry, region: object) -> Region:
        """The clipped region a write will touch, after reserving it (None: the whole grid)."""
        if region is None:
            self._reserve(entry, None, None)
            return slice(0, entry.shape[0]), slice(0, entry.shape[1])
        rows, cols = validate_region(region, entry.shape)
        if self._reserves:
            self._reserve(entry, *self._region_bytes(entry, rows, cols))
        return rows, cols

    # -- reads --------------------------------------------------------------------------
    def get_window(self, name: str, y0: int, y1: int, x0: int, x1: int, *, normalize_by: float | None = None,
                   out_dtype: object = np.float32) -> np.ndarray:
        """A fresh copy of ``[y0:y1, x0:x1]`` (half-open, y then x) with zeros outside the grid."""
        entry = self._entry(name)
        resolved = validate_out_dtype(out_dtype)
        top, bottom, left, right = (validate_bound(v, label) for v, label in ((y0, "y0"), (y1, "y1"), (x0, "x0"), (x1, "x1")))
        norm = validate_normalizer(normalize_by)
        out_shape = (max(0, bottom - top), max(0, right - left))
        check_request(out_shape[0] * out_shape[1] * resolved.itemsize, f"window [{y0}:{y1}, {x0}:{x1}] of {name!r}")
        height, width = entry.shape
        rows = slice(min(max(top, 0), height), max(min(bottom, height), 0))
        cols = slice(min(max(left, 0), width), max(min(right, width), 0))
        inside = rows.stop > rows.start and cols.stop > cols.start
        out = (np.empty if inside and out_shape == (rows.stop - rows.start, cols.stop - cols.start) else np.zeros)(
            out_shape, dtype=resolved)
        if inside:
            if self._needs_read_reserve(entry):
                self._reserve(entry, *self._region_bytes(entry, rows, cols))
            target = out[rows.start - top : rows.stop - top, cols.start - left : cols.stop - left]
            self.read_region(entry, rows, cols, target)
        if norm is not None:
            np.divide(out, norm, out=out, casting="unsafe")
        return out

    def get_windows(self, name: str, ys: object, xs: object, radius: int, *, normalize_by: float | None = None,
                    out: np.ndarray | None = None) -> np.ndarray:
        """``(N, 2r+1, 2r+1)`` float32 windows centred on each ``(ys[i], xs[i])``."""
        entry = self._entry(name)
        return self._checked_gather(entry, plan_windows(entry.shape, ys, xs, radius), normalize_by, out)

    def get_planned_windows(self, name: str, plan: WindowPlan, *, normalize_by: float | None = None,
                            out: np.ndarray | None = None) -> np.ndarray:
        """``get_windows`` with centres planned once by ``farm_grids.windows.plan_windows``."""
        return self._checked_gather(self._entry(name), plan, normalize_by, out)

    def _checked_gather(self, entry: GridEntry, plan: WindowPlan, normalize_by: float | None,
                        out: np.ndarray | None) -> np.ndarray:
        if not isinstance(plan, WindowPlan) or plan.shape != entry.shape:
            raise InvalidGridSpecError(f"window plan is for shape {getattr(plan, 'shape', None)}, grid is {entry.shape}")
        if self._needs_read_reserve(entry):
            self._reserve(entry, *self._plan_bytes(entry, plan))
        self._before_gather(entry, plan)
        return self.gather_windows(entry, plan, normalize_by, out)

    def get_cells(self, name: str, ys: object, xs: object) -> np.ndarray:
        """The values at cells ``(ys[i], xs[i])`` in the grid's dtype; outside cells read zero."""
        entry = self._entry(name)
        rows, cols = validate_centres(ys, xs)
        height, width = entry.shape
        inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
        result = np.zeros(rows.shape, dtype=entry.dtype)
        flat = rows[inside] * width + cols[inside]
        if flat.size:
            if self._needs_read_reserve(entry):
                self._reserve_cells(entry, flat)
            result[inside] = self.read_cells(entry, flat)
        return result
