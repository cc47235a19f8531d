"""TileGrid: a 2-D grid stored tile-major (each tile one contiguous block), and its kernels.

A row-major window touches one page per window row; in a tile-major buffer a window
touches at most four tiles, so cold reads, prefetch and eviction follow the work. Cell
(y, x) lives at flat offset ``R[y] + Q[x]`` with ``R[y] = (y // T) * nx * T * T + (y % T) * T``
and ``Q[x] = (x // T) * T * T + x % T``: every kernel below is that one separable sum.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from numpy.lib.stride_tricks import as_strided

from farm_grids.errors import InvalidGridSpecError
from farm_grids.points import scatter
from farm_grids.windows import WindowPlan, prepare_out, validate_normalizer

__all__ = ["DEFAULT_TILE", "LAYOUTS", "TileGrid", "tile_buffer_cells", "validate_layout"]

# Windows per vectorised gather step: bounds the (chunk, S, S) int64 index temporaries.
_WINDOW_CHUNK = 1024
LAYOUTS = ("rows", "tiles")
# 32 x 32 float32 cells are one 4 KiB page: an R=6 window touches ~2 pages instead of 13
# (BENCHMARKS.md, "Choosing the tile side", measures 16, 32 and 64).
DEFAULT_TILE = 32


def validate_layout(layout: object, tile_size: object) -> tuple[str, int]:
    """``(layout, tile_size)`` checked: "rows" or "tiles", and a power-of-two side from 8 to 4096."""
    if layout not in LAYOUTS:
        raise InvalidGridSpecError(f"unknown layout {layout!r}; use one of {LAYOUTS}")
    if (isinstance(tile_size, bool) or not isinstance(tile_size, (int, np.integer)) or not 8 <= tile_size <= 4096
            or int(tile_size) & (int(tile_size) - 1)):
        raise InvalidGridSpecError(f"tile_size must be a power of two from 8 to 4096, got {tile_size!r}")
    return str(layout), int(tile_size)


def tile_buffer_cells(shape: tuple[int, int], tile: int) -> int:
    """Cells a tile-major buffer for ``shape`` needs (the grid padded to whole tiles)."""
    return -(-shape[0] // tile) * -(-shape[1] // tile) * tile * tile


class TileGrid:
    """A view of a 1-D buffer as a ``shape`` grid in ``tile``-square tiles, tile-major."""

    def __init__(self, buffer: np.ndarray, shape: tuple[int, int], tile: int) -> None:
        self.shape = shape
        self.tile = tile
        self.ny, self.nx = -(-shape[0] // tile), -(-shape[1] // tile)
        self.buffer = buffer
        self.tiles = buffer.reshape(self.ny, self.nx, tile, tile)
        ys = np.arange(shape[0], dtype=np.int64)
        xs = np.arange(shape[1], dtype=np.int64)
        self.row_offsets = (ys // tile) * (self.nx * tile * tile) + (ys % tile) * tile
        self.col_offsets = (xs // tile) * (tile * tile) + xs % tile

    # -- addressing -------------------------------------------------------------------------
    def offsets(self, flat: np.ndarray) -> np.ndarray:
        """Buffer offsets of row-major flat cell indices ``y * W + x``."""
        ys, xs = np.divmod(flat, self.shape[1])
        return self.row_offsets[ys] + self.col_offsets[xs]

    def _pieces(self, rows: slice, cols: slice) -> list[tuple[int, int, slice, slice, slice, slice]]:
        """(ty, tx, tile rows, tile cols, region rows, region cols) of each tile a region crosses."""
        t = self.tile
        pieces = []
        for ty in range(rows.start // t, (rows.stop - 1) // t + 1):
            y0, y1 = max(rows.start, ty * t), min(rows.stop, (ty + 1) * t)
            for tx in range(cols.start // t, (cols.stop - 1) // t + 1):
                x0, x1 = max(cols.start, tx * t), min(cols.stop, (tx + 1) * t)
                pieces.append((ty, tx, slice(y0 - ty * t, y1 - ty * t), slice(x0 - tx * t, x1 - tx * t),
                               slice(y0 - rows.start, y1 - rows.start), slice(x0 - cols.start, x1 - cols.start)))
        return pieces

    def tiles_of_region(self, rows: slice, cols: slice) -> tuple[slice, slice]:
        """The tile rows and tile columns an in-bounds region covers."""
        t = self.tile
        return slice(rows.start // t, (rows.stop - 1) // t + 1), slice(cols.start // t, (cols.stop - 1) // t + 1)

    # -- regions ----------------------------------------------------------------------------
    def read_region(self, rows: slice, cols: slice, out: np.ndarray) -> None:
        for ty, tx, trows, tcols, orows, ocols in self._pieces(rows, cols):
            np.copyto(out[orows, ocols], self.tiles[ty, tx, trows, tcols], casting="unsafe")

    def write_region(self, rows: slice, cols: slice, data: np.ndarray) -> None:
        block = np.broadcast_to(data, (rows.stop - rows.start, cols.stop - cols.start))
        for ty, tx, trows, tcols, orows, ocols in self._pieces(rows, cols):
            np.copyto(self.tiles[ty, tx, trows, tcols], block[orows, ocols], casting="unsafe")

    def apply_region(self, rows: slice, cols: slice, op: Callable[[np.ndarray], None]) -> None:
        """An in-place elementwise ``op`` on each tile piece of the region."""
        for ty, tx, trows, tcols, _, _ in self._pieces(rows, cols):
            op(self.tiles[ty, tx, trows, tcols])

    # -- windows ----------------------------------------------------------------------------
    def gather(self, plan: WindowPlan, normalize_by: float | None, out: np.ndarray | None) -> np.ndarray:
        """A planned window gather: the separable offsets of every window cell, one ``take``."""
        norm = validate_normalizer(normalize_by)
        side = plan.side
        out = prepare_out(out, (plan.count, side, side), np.float32)
        if out is None:
            out = np.empty((plan.count, side, side), dtype=np.float32)
        steps = np.arange(side, dtype=np.int64)
        width, t = self.shape[1], self.tile
        positions = plan.positions.astype(np.int64, copy=False)
        rows_of = np.arange(positions.size) if plan.interior is None else plan.interior
        y0, x0 = np.divmod(positions, width)
        # A window inside one tile is S rows of S cells, T apart: the same strided copy the
        # row-major gather makes. Only windows that straddle tiles take the per-cell index.
        within = ((y0 // t) == (y0 + side - 1) // t) & ((x0 // t) == (x0 + side - 1) // t) if side <= t else None
        if within is not None and within.any():
            origins = self.row_offsets[y0[within]] + self.col_offsets[x0[within]]
            view = as_strided(self.buffer, shape=(self.buffer.size - (side - 1) * (t + 1), side, side),
                              strides=(self.buffer.itemsize, t * self.buffer.itemsize, self.buffer.itemsize),
                              writeable=False)
            inside_rows = rows_of[within]
            for start in range(0, origins.size, _WINDOW_CHUNK):
                out[inside_rows[start : start + _WINDOW_CHUNK]] = view[origins[start : start + _WINDOW_CHUNK]]
            y0, x0, rows_of = y0[~within], x0[~within], rows_of[~within]
        for start in range(0, y0.size, _WINDOW_CHUNK):
            ys, xs = y0[start : start + _WINDOW_CHUNK], x0[start : start + _WINDOW_CHUNK]
            index = self.row_offsets[ys[:, None] + steps][:, :, None] + self.col_offsets[xs[:, None] + steps][:, None, :]
            out[rows_of[start : start + _WINDOW_CHUNK]] = self.buffer.take(index)
        if plan.edge.size:
            index = self.row_offsets[plan.edge_rows] + self.col_offsets[plan.edge_cols]
            values = self.buffer.take(index)
            out[plan.edge] = np.where(plan.edge_inside, values, np.zeros((), dtype=self.buffer.dtype))
        if norm is not None:
            np.divide(out, norm, out=out, casting="unsafe")
        return out

    # -- points and tiles -------------------------------------------------------------------
    def read_cells(self, flat: np.ndarray) -> np.ndarray:
        return self.buffer[self.offsets(flat)]

    def write_cells(self, flat: np.ndarray, values: np.ndarray) -> None:
        self.buffer[self.offsets(flat)] = values

    def scatter(self, flat: np.ndarray, amounts: np.ndarray, accumulate: bool, clip_max: float | None) -> None:
        scatter(self.buffer, self.offsets(flat), amounts, accumulate=accumulate, clip_max=clip_max)

    def scale_marked_tiles(self, mask: np.ndarray, factor: object, floor: float) -> np.ndarray:
        """Multiply the tiles ``mask`` marks (one mask cell per storage tile); returns faded ones.

        Tiles are contiguous here, so a marked set is gathered, scaled and written back in
        batches; the padding beyond the grid's edge only ever holds zeros.
        """
        faded = np.zeros(mask.shape, dtype=bool)
        ty, tx = np.nonzero(mask)
        for start in range(0, ty.size, 256):
            rows, cols = ty[start : start + 256], tx[start : start + 256]
            batch = self.tiles[rows, cols]
            np.multiply(batch, factor, out=batch, casting="unsafe")
            if floor > 0.0:
                gone = np.abs(batch).max(axis=(1, 2)) < floor
                batch[gone] = 0
                faded[rows[gone], cols[gone]] = True
            self.tiles[rows, cols] = batch
        return faded
