"""DenseArrayStore: the contract's primitives and fast paths over one C-contiguous ndarray per grid."""

from __future__ import annotations

from typing import Callable

import numpy as np

from farm_grids.limits import max_request_bytes
from farm_grids.points import scatter
from farm_grids.stores import blockops
from farm_grids.stores.base import GridStore
from farm_grids.stores.entry import GridEntry
from farm_grids.stores.tiled import DEFAULT_TILE, TileGrid, validate_layout
from farm_grids.stores.validation import validate_storage_size
from farm_grids.windows import WindowPlan, read_planned_windows

__all__ = ["DenseArrayStore"]

_FLOAT32 = np.dtype(np.float32)
_F32_TYPE = np.float32


class DenseArrayStore(GridStore):
    """A backend whose every grid is one C-contiguous buffer: rows (``entry.array``) or tiles.

    RAM, sparse RAM and memmap share these. ``layout="rows"``: every fast path is one numpy
    call on the row-major array, and float32 grids get an unchecked single-window path for
    in-bounds reads. ``layout="tiles"``: the buffer is tile-major (``tile_size``-square tiles,
    each contiguous), so a window touches at most a few tiles instead of one page per row;
    every operation goes through a ``TileGrid`` and ``get()`` has no array to return.
    """

    def __init__(self, *, default_dtype: object = "float32", default_mode: str = "w+",
                 layout: str = "rows", tile_size: int = DEFAULT_TILE) -> None:
        super().__init__(default_dtype=default_dtype, default_mode=default_mode)
        self.layout, self.tile_size = validate_layout(layout, tile_size)
        # name -> (array, height, width) of float32 grids: the single-window fast path
        # needs nothing else, and every attribute lookup there costs a visible share.
        self._fast: dict[str, tuple[np.ndarray, int, int]] = {}
        # The same for tile-major float32 grids: their TileGrid copies a window from <= 4 tiles.
        self._fast_tiles: dict[str, tuple[Callable[[int, int, int, int], np.ndarray], int, int]] = {}

    def _register(self, entry: GridEntry) -> None:
        super()._register(entry)
        # Only grids within the request limit take the unchecked path: an in-bounds window
        # of them can never be larger than the limit.
        if (
            entry.dtype == _FLOAT32
            and entry.info.nbytes <= max_request_bytes()
            and not self._needs_read_reserve(entry)
        ):
            if entry.array is not None:
                self._fast[entry.name] = (entry.array, entry.shape[0], entry.shape[1])
            else:
                self._fast_tiles[entry.name] = (self._tile_grid(entry).window_reader(), entry.shape[0], entry.shape[1])

    def _unregister(self, name: str) -> GridEntry:
        self._fast.pop(name, None)
        self._fast_tiles.pop(name, None)
        return super()._unregister(name)

    def check_new_grid(self, name: str, shape: tuple[int, int], dtype: np.dtype) -> None:
        if self.layout == "rows":
            super().check_new_grid(name, shape, dtype)
            return
        # A grid smaller than one tile is allowed (padding is bounded by this size check): a
        # tiled store holds small grids beside the world's, and the store suite relies on it.
        validate_storage_size(shape, dtype, self.tile_size, f"tiled grid {name!r}")

    def _tile_grid(self, entry: GridEntry) -> TileGrid:
        """The TileGrid of a tile-major grid (RAM keeps it as the entry's state)."""
        return entry.state  # type: ignore[no-any-return]

    def _new_buffer(self, name: str, shape: tuple[int, int], dtype: np.dtype, mode: str, fill: float,
                    buffer: np.ndarray, path: object = None, state: object = None) -> GridEntry:
        """The entry for a new grid over ``buffer``: the array itself (rows) or a TileGrid on it."""
        info = self.describe_grid(name, shape, dtype, mode, path)  # type: ignore[arg-type]
        if self.layout == "rows":
            array = buffer.reshape(shape)
            if fill != 0.0:
                array.fill(fill)
            return GridEntry(info, array, state)
        tiles = TileGrid(buffer, shape, self.tile_size)
        if fill != 0.0:  # only the grid's cells: the padding of edge tiles stays zero
            tiles.write_region(slice(0, shape[0]), slice(0, shape[1]), np.full((1, 1), fill, dtype=dtype))
        if state is None:
            return GridEntry(info, None, tiles)
        state.tiles = tiles  # type: ignore[attr-defined]
        return GridEntry(info, None, state)

    # -- primitives -----------------------------------------------------------------------
    def read_region(self, entry: GridEntry, rows: slice, cols: slice, out: np.ndarray) -> None:
        if entry.array is None:
            self._tile_grid(entry).read_region(rows, cols, out)
            return
        np.copyto(out, entry.array[rows, cols], casting="unsafe")

    def write_region(self, entry: GridEntry, rows: slice, cols: slice, data: np.ndarray) -> None:
        if entry.array is None:
            self._tile_grid(entry).write_region(rows, cols, data)
            return
        np.copyto(entry.array[rows, cols], data, casting="unsafe")

    # -- fast paths -----------------------------------------------------------------------
    def fill_region(self, entry: GridEntry, rows: slice, cols: slice, value: float) -> None:
        if entry.array is None:
            self._tile_grid(entry).apply_region(rows, cols, lambda block: block.fill(value))
            return
        entry.array[rows, cols].fill(value)

    def apply_region(self, entry: GridEntry, rows: slice, cols: slice, op: Callable[[np.ndarray], None]) -> None:
        if entry.array is None:
            self._tile_grid(entry).apply_region(rows, cols, op)
            return
        op(entry.array[rows, cols])

    def gather_windows(self, entry: GridEntry, plan: WindowPlan, normalize_by: float | None, out: np.ndarray | None) -> np.ndarray:
        if entry.array is None:
            return self._tile_grid(entry).gather(plan, normalize_by, out)
        return read_planned_windows(entry.array, plan, normalize_by=normalize_by, out=out)

    def read_cells(self, entry: GridEntry, flat: np.ndarray) -> np.ndarray:
        if entry.array is None:
            return self._tile_grid(entry).read_cells(flat)
        return entry.array.reshape(-1)[flat]

    def write_cells(self, entry: GridEntry, flat: np.ndarray, values: np.ndarray) -> None:
        if entry.array is None:
            self._tile_grid(entry).write_cells(flat, values)
            return
        entry.array.reshape(-1)[flat] = values

    def scatter_cells(self, entry: GridEntry, flat: np.ndarray, amounts: np.ndarray, accumulate: bool,
                 clip_max: float | None) -> None:
        if entry.array is None:
            self._tile_grid(entry).scatter(flat, amounts, accumulate, clip_max)
            return
        scatter(entry.array.reshape(-1), flat, amounts, accumulate=accumulate, clip_max=clip_max)

    def scale_marked_tiles(self, entry: GridEntry, mask: np.ndarray, tile_size: int, factor: object, floor: float) -> np.ndarray:
        if entry.array is None:
            grid = self._tile_grid(entry)
            if tile_size % grid.tile == 0:
                return blockops.scale_tile_major(grid, mask, tile_size, factor, floor)
            # Decay tiles smaller than the storage tile or not a multiple of it: region by region
            # (each region's whole storage tiles in one call), then, with a floor, one read per
            # marked tile for its peak: correct, and slower (README, "Tiles").
            return super().scale_marked_tiles(entry, mask, tile_size, factor, floor)
        return blockops.scale_tiles(entry.array, mask, tile_size, factor, floor)

    def get_window(self, name: str, y0: int, y1: int, x0: int, x1: int, *, normalize_by: float | None = None,
                   out_dtype: object = np.float32) -> np.ndarray:
        try:
            fast = self._fast.get(name)  # type: ignore[call-overload]
            tiled = None if fast is not None else self._fast_tiles.get(name)  # type: ignore[call-overload]
        except TypeError:  # an unhashable name: the checked path raises GridNotFoundError
            fast = tiled = None
        if fast is not None and normalize_by is None and out_dtype is _F32_TYPE:
            # In bounds, float32 in and out: one slice copy, exactly what the checked path
            # does after its checks. Floats, NaN, None and bools fail the comparisons, the
            # slice (TypeError) or the class test and take the checked path, which raises
            # the typed error.
            array, height, width = fast
            try:
                if (
                    0 <= y0 <= y1 <= height
                    and 0 <= x0 <= x1 <= width
                    and y0.__class__ is not bool is not y1.__class__
                    and x0.__class__ is not bool is not x1.__class__
                ):
                    return array[y0:y1, x0:x1].copy()
            except TypeError:
                pass
        elif tiled is not None and normalize_by is None and out_dtype is _F32_TYPE:
            # The same for a tile-major grid, non-empty windows only: a copy from <= 4 tiles
            # (floats fail the tile arithmetic with TypeError and take the checked path).
            read, height, width = tiled
            try:
                if (
                    0 <= y0 < y1 <= height
                    and 0 <= x0 < x1 <= width
                    and y0.__class__ is not bool is not y1.__class__
                    and x0.__class__ is not bool is not x1.__class__
                ):
                    return read(y0, y1, x0, x1)
            except TypeError:
                pass
        return super().get_window(name, y0, y1, x0, x1, normalize_by=normalize_by, out_dtype=out_dtype)
