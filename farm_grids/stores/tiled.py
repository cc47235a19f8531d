"""TileGrid: a 2-D grid stored tile-major (each tile one contiguous block), and its kernels.

A row-major window touches one page per window row; in a tile-major buffer a window
touches at most four tiles, so cold reads, prefetch and eviction follow the work. Cell
(y, x) lives at flat offset ``R[y] + Q[x]`` with ``R[y] = (y // T) * nx * T * T + (y % T) * T``
and ``Q[x] = (x // T) * T * T + x % T``: every kernel below is that one separable sum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from numpy.lib.stride_tricks import as_strided

from farm_grids.errors import InvalidGridSpecError
from farm_grids.points import scatter
from farm_grids.windows import WindowPlan, prepare_out, validate_normalizer

__all__ = ["DEFAULT_TILE", "LAYOUTS", "TileGrid", "tile_buffer_cells", "validate_layout", "window_tiles"]

# Windows per vectorised gather step: bounds the (chunk, S, S) int64 index temporaries.
_WINDOW_CHUNK = 1024
# A region of at most this many cells that straddles two or four tiles is copied with one
# ``take`` through an index cached per position and shape (8 KiB at most; a grid keeps up to
# _SPAN_INDEXES of them, ~1.4 MiB for R=6 windows over 32-tiles): the two to four slice
# copies it replaces cost 3-5x a row-major copy.
_SPAN_INDEX_CELLS = 1024
_SPAN_INDEXES = 2048
# Marked tiles forming at most this many runs are scaled one slice per run (else one gather,
# when runs average under four tiles); a gather takes this many tiles per step (4 MiB of
# 32-tiles), so a scattered active set never needs a temporary the size of the grid.
_MAX_RUN_PASSES = 64
# A plan keeps the offsets of its straddling windows' cells up to this size (10,000 R=6
# windows straddle ~6,000: 8 MiB); beyond it they are computed per gather, in chunks.
_KEPT_INDEX_BYTES = 32 << 20
_GATHER_TILES = 1024
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


def window_tiles(tile: int, y0: int, y1: int, x0: int, x1: int) -> tuple[range, range]:
    """The tile rows and tile columns a non-empty in-bounds region ``[y0:y1, x0:x1]`` copies from.

    A region no larger than a tile in each direction spans at most 2 x 2 tiles.
    """
    return range(y0 // tile, (y1 - 1) // tile + 1), range(x0 // tile, (x1 - 1) // tile + 1)


def _span_index(tile: int, tile_row_cells: int, top: int, left: int, height: int, width: int) -> np.ndarray:
    """Offsets, from the start of its first tile, of each cell of a ``height x width`` region
    that starts at ``(top, left)`` inside that tile and spans at most two tile rows and columns."""
    ys = np.arange(top, top + height, dtype=np.intp)
    xs = np.arange(left, left + width, dtype=np.intp)
    index = ((ys // tile) * tile_row_cells + (ys % tile) * tile)[:, None] + ((xs // tile) * tile * tile + xs % tile)[None, :]
    index.flags.writeable = False
    return index


@dataclass
class _TiledWindows:
    """Where a window plan's windows lie in one tile geometry (kept on the plan, reused per layer)."""

    inside_rows: np.ndarray  # rows of ``out`` of the interior windows inside one tile
    inside_origins: np.ndarray  # buffer offset of each one's first cell
    across_rows: np.ndarray  # rows of ``out`` of the interior windows straddling tiles
    across_ys: np.ndarray  # their first cells
    across_xs: np.ndarray
    keep: bool  # whether the plan may keep the offsets of their cells (small enough)
    across_chunks: list[np.ndarray]  # those offsets, (chunk, S, S) each, once kept
    edge_index: np.ndarray | None  # (E, S, S) offsets of the edge windows' clipped cells
    gathers: int = 0  # gathers made with this plan so far


class TileGrid:
    """A view of a 1-D buffer as a ``shape`` grid in ``tile``-square tiles, tile-major."""

    def __init__(self, buffer: np.ndarray, shape: tuple[int, int], tile: int) -> None:
        self.shape = shape
        self.tile = tile
        self.ny, self.nx = -(-shape[0] // tile), -(-shape[1] // tile)
        self.buffer = buffer
        self.tiles = buffer.reshape(self.ny, self.nx, tile, tile)
        self._shift = tile.bit_length() - 1  # tile sides are powers of two (validate_layout)
        self._tile_cells = tile * tile
        self._tile_row_cells = self.nx * tile * tile
        self._region_indexes: dict[tuple[int, int, int, int], np.ndarray] = {}
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
    def _span(self, rows: slice, cols: slice) -> np.ndarray | None:
        """The buffer from the region's first tile on, indexed by a cached ``_span_index``, when
        the region is small and spans at most 2 x 2 tiles; None otherwise."""
        y0, y1, x0, x1 = rows.start, rows.stop, cols.start, cols.stop
        shift, mask = self._shift, self.tile - 1
        ty0, tx0 = y0 >> shift, x0 >> shift
        if ((y1 - 1) >> shift) - ty0 > 1 or ((x1 - 1) >> shift) - tx0 > 1 or (y1 - y0) * (x1 - x0) > _SPAN_INDEX_CELLS:
            return None
        key = (y0 & mask, x0 & mask, y1 - y0, x1 - x0)
        index = self._region_indexes.get(key)
        if index is None:
            if len(self._region_indexes) >= _SPAN_INDEXES:
                self._region_indexes.clear()
            index = self._region_indexes[key] = _span_index(self.tile, self._tile_row_cells, *key)
        return self.buffer[(ty0 * self.nx + tx0) * self._tile_cells :].take(index)

    def copy_window(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """A fresh copy of the non-empty in-bounds ``[y0:y1, x0:x1]`` in the grid's dtype."""
        return self.window_reader()(y0, y1, x0, x1)

    def window_reader(self) -> Callable[[int, int, int, int], np.ndarray]:
        """``copy_window`` as a closure over this grid's constants (the single-window fast path).

        Inside one tile: one slice copy, as in the row layout. Across two or four tiles (a
        window no larger than a tile): one ``take`` of exactly their cells, through an index
        cached per position in the first tile and window shape. Larger: tile by tile.
        """
        tiles, buffer, shift, mask, nx = self.tiles, self.buffer, self._shift, self.tile - 1, self.nx
        cell_shift, tile, tile_row_cells = 2 * self._shift, self.tile, self._tile_row_cells
        indexes: dict[tuple[int, int, int, int], np.ndarray] = {}

        def read(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
            ty0, tx0, ty1, tx1 = y0 >> shift, x0 >> shift, (y1 - 1) >> shift, (x1 - 1) >> shift
            if ty0 == ty1 and tx0 == tx1:
                return tiles[ty0, tx0, y0 & mask : ((y1 - 1) & mask) + 1, x0 & mask : ((x1 - 1) & mask) + 1].copy()
            if ty1 - ty0 < 2 and tx1 - tx0 < 2:
                key = (y0 & mask, x0 & mask, y1 - y0, x1 - x0)
                index = indexes.get(key)
                if index is None and key[2] * key[3] <= _SPAN_INDEX_CELLS:
                    if len(indexes) >= _SPAN_INDEXES:
                        indexes.clear()
                    index = indexes[key] = _span_index(tile, tile_row_cells, *key)
                if index is not None:
                    return buffer[(ty0 * nx + tx0) << cell_shift :].take(index)
            out = np.empty((y1 - y0, x1 - x0), dtype=buffer.dtype)
            for ty, tx, trows, tcols, orows, ocols in self._pieces(slice(y0, y1), slice(x0, x1)):
                out[orows, ocols] = tiles[ty, tx, trows, tcols]
            return out

        return read

    def read_region(self, rows: slice, cols: slice, out: np.ndarray) -> None:
        values = self._span(rows, cols)
        if values is not None:
            np.copyto(out, values, casting="unsafe")
            return
        for ty, tx, trows, tcols, orows, ocols in self._pieces(rows, cols):
            np.copyto(out[orows, ocols], self.tiles[ty, tx, trows, tcols], casting="unsafe")

    def write_region(self, rows: slice, cols: slice, data: np.ndarray) -> None:
        block = np.broadcast_to(data, (rows.stop - rows.start, cols.stop - cols.start))
        interior = self._whole_tiles(rows, cols)
        if interior is not None:
            # The whole tiles as one (tile rows, tiles, T, T) view: one copy for all of them.
            (ty0, ty1, tx0, tx1), t = interior, self.tile
            part = block[ty0 * t - rows.start : ty1 * t - rows.start, tx0 * t - cols.start : tx1 * t - cols.start]
            np.copyto(self.tiles[ty0:ty1, tx0:tx1],
                      part.reshape(ty1 - ty0, t, tx1 - tx0, t).transpose(0, 2, 1, 3), casting="unsafe")
        for ty, tx, trows, tcols, orows, ocols in self._border_pieces(rows, cols, interior):
            np.copyto(self.tiles[ty, tx, trows, tcols], block[orows, ocols], casting="unsafe")

    def apply_region(self, rows: slice, cols: slice, op: Callable[[np.ndarray], None]) -> None:
        """An in-place elementwise ``op`` over the region: its whole tiles in one call (the whole
        buffer when the region is the grid and the grid is whole tiles), the ragged rest tile by tile."""
        interior = self._whole_tiles(rows, cols)
        if interior is not None:
            ty0, ty1, tx0, tx1 = interior
            if (ty0, tx0, ty1, tx1) == (0, 0, self.ny, self.nx):
                op(self.buffer)
            else:
                op(self.tiles[ty0:ty1, tx0:tx1])
        for ty, tx, trows, tcols, _, _ in self._border_pieces(rows, cols, interior):
            op(self.tiles[ty, tx, trows, tcols])

    def _whole_tiles(self, rows: slice, cols: slice) -> tuple[int, int, int, int] | None:
        """(first, end) tile row and column of the tiles wholly inside the region (and the grid)."""
        t = self.tile
        ty0, ty1 = -(-rows.start // t), rows.stop // t
        tx0, tx1 = -(-cols.start // t), cols.stop // t
        return (ty0, ty1, tx0, tx1) if ty1 > ty0 and tx1 > tx0 else None

    def _border_pieces(self, rows: slice, cols: slice,
                       interior: tuple[int, int, int, int] | None) -> list[tuple[int, int, slice, slice, slice, slice]]:
        """``_pieces`` of the region outside its whole tiles: at most four strips, each under a tile thick."""
        if interior is None:
            return self._pieces(rows, cols)
        t = self.tile
        y0, y1, x0, x1 = interior[0] * t, interior[1] * t, interior[2] * t, interior[3] * t
        strips = [(slice(rows.start, y0), cols), (slice(y1, rows.stop), cols),
                  (slice(y0, y1), slice(cols.start, x0)), (slice(y0, y1), slice(x1, cols.stop))]
        pieces = []
        for strip_rows, strip_cols in strips:
            if strip_rows.stop > strip_rows.start and strip_cols.stop > strip_cols.start:
                for ty, tx, trows, tcols, orows, ocols in self._pieces(strip_rows, strip_cols):
                    # Offsets into the strip, moved to offsets into the region.
                    dy, dx = strip_rows.start - rows.start, strip_cols.start - cols.start
                    pieces.append((ty, tx, trows, tcols, slice(orows.start + dy, orows.stop + dy),
                                   slice(ocols.start + dx, ocols.stop + dx)))
        return pieces

    # -- windows ----------------------------------------------------------------------------
    def gather(self, plan: WindowPlan, normalize_by: float | None, out: np.ndarray | None) -> np.ndarray:
        """A planned window gather: windows inside one tile as strided copies (as the row layout
        does), the rest through the per-cell offsets of the tiles they straddle, one ``take``."""
        norm = validate_normalizer(normalize_by)
        side = plan.side
        out = prepare_out(out, (plan.count, side, side), np.float32)
        if out is None:
            out = np.empty((plan.count, side, side), dtype=np.float32)
        # Every layer of an observation pass shares the plan and, usually, the tile geometry.
        where = plan.derived(("tile-windows", self.tile, self.nx), lambda: self._place(plan))
        t, itemsize = self.tile, self.buffer.itemsize
        if where.inside_rows.size:
            # A window inside one tile is S rows of S cells, T apart: one strided view serves all.
            view = as_strided(self.buffer, shape=(self.buffer.size - (side - 1) * (t + 1), side, side),
                              strides=(itemsize, t * itemsize, itemsize), writeable=False)
            for start in range(0, where.inside_rows.size, _WINDOW_CHUNK):
                stop = start + _WINDOW_CHUNK
                out[where.inside_rows[start:stop]] = view[where.inside_origins[start:stop]]
        # Straddling windows in chunks, so each chunk's index is still in cache when ``take``
        # reads it. A plan gathered a second time (the next layer of an observation pass) keeps
        # its chunks' indexes for the layers after; a plan used once keeps nothing, so its
        # temporaries go back to the allocator and the next call's cost no page faults.
        where.gathers += 1
        kept = where.across_chunks
        fresh = not kept
        for number, start in enumerate(range(0, where.across_rows.size, _WINDOW_CHUNK)):
            stop = start + _WINDOW_CHUNK
            if fresh:
                index = self._window_index(where.across_ys[start:stop], where.across_xs[start:stop], side)
                if where.keep and where.gathers > 1:
                    kept.append(index)
            else:
                index = kept[number]
            out[where.across_rows[start:stop]] = self.buffer.take(index)
        if plan.edge.size:
            values = self.buffer.take(where.edge_index)
            out[plan.edge] = np.where(plan.edge_inside, values, np.zeros((), dtype=self.buffer.dtype))
        if norm is not None:
            np.divide(out, norm, out=out, casting="unsafe")
        return out

    def _window_index(self, ys: np.ndarray, xs: np.ndarray, side: int) -> np.ndarray:
        """(N, S, S) buffer offsets of the square windows whose first cells are ``(ys, xs)``."""
        steps = np.arange(side, dtype=np.int64)
        return self.row_offsets[ys[:, None] + steps][:, :, None] + self.col_offsets[xs[:, None] + steps][:, None, :]

    def _place(self, plan: WindowPlan) -> _TiledWindows:
        """Split a plan's interior windows into those inside one tile and those straddling tiles."""
        side, shift = plan.side, self._shift
        positions = plan.positions.astype(np.int64, copy=False)
        rows_of = np.arange(positions.size) if plan.interior is None else plan.interior
        y0, x0 = np.divmod(positions, self.shape[1])
        if side <= self.tile:
            within = ((y0 >> shift) == ((y0 + side - 1) >> shift)) & ((x0 >> shift) == ((x0 + side - 1) >> shift))
        else:
            within = np.zeros(positions.shape, dtype=bool)
        across = ~within
        ys, xs = y0[across], x0[across]
        edge_index = (self.row_offsets[plan.edge_rows] + self.col_offsets[plan.edge_cols]) if plan.edge.size else None
        return _TiledWindows(
            inside_rows=rows_of[within], inside_origins=self.row_offsets[y0[within]] + self.col_offsets[x0[within]],
            across_rows=rows_of[across], across_ys=ys, across_xs=xs,
            keep=ys.size * side * side * 8 <= _KEPT_INDEX_BYTES, across_chunks=[], edge_index=edge_index,
        )

    # -- points and tiles -------------------------------------------------------------------
    def read_cells(self, flat: np.ndarray) -> np.ndarray:
        return self.buffer[self.offsets(flat)]

    def write_cells(self, flat: np.ndarray, values: np.ndarray) -> None:
        self.buffer[self.offsets(flat)] = values

    def scatter(self, flat: np.ndarray, amounts: np.ndarray, accumulate: bool, clip_max: float | None) -> None:
        scatter(self.buffer, self.offsets(flat), amounts, accumulate=accumulate, clip_max=clip_max)

    def scale_marked_tiles(self, mask: np.ndarray, factor: object, floor: float) -> np.ndarray:
        """Multiply the tiles ``mask`` marks (one mask cell per storage tile); returns faded ones.

        Tiles are contiguous and numbered row-major, so consecutive marked tiles are one slice
        of the buffer: every marked tile is one multiply when the mask is dense (all of it: the
        whole buffer), a few long runs are one multiply each, and scattered tiles are gathered,
        scaled and written back in one vectorised pass. The padding beyond the grid's edge only
        ever holds zeros, so a whole tile's peak is the peak of its grid cells.
        """
        flat_mask = mask.reshape(-1)
        marked = np.flatnonzero(flat_mask)
        faded = np.zeros(mask.shape, dtype=bool)
        if marked.size == 0:
            return faded
        cells = self._tile_cells
        by_tile = self.buffer.reshape(-1, cells)
        starts, ends = _runs(marked)
        if starts.size <= _MAX_RUN_PASSES or starts.size * 4 <= marked.size:
            for start, end in zip(starts.tolist(), ends.tolist()):
                block = self.buffer[start * cells : end * cells]
                np.multiply(block, factor, out=block, casting="unsafe")
            if floor > 0.0:
                gone = marked[self.tile_peaks(marked) < floor]
                by_tile[gone] = 0
                faded.reshape(-1)[gone] = True
            return faded
        for first in range(0, marked.size, _GATHER_TILES):
            ids = marked[first : first + _GATHER_TILES]
            batch = by_tile[ids]
            np.multiply(batch, factor, out=batch, casting="unsafe")
            if floor > 0.0:
                low = _peaks(batch) < floor
                batch[low] = 0
                faded.reshape(-1)[ids[low]] = True
            by_tile[ids] = batch
        return faded

    def tile_peaks(self, ids: np.ndarray) -> np.ndarray:
        """The max |value| of each tile ``ids`` names (row-major tile numbers; NaN stays NaN)."""
        by_tile = self.buffer.reshape(-1, self._tile_cells)
        peaks = []
        for first in range(0, ids.size, _GATHER_TILES):
            chunk = ids[first : first + _GATHER_TILES]
            if chunk[-1] - chunk[0] + 1 == chunk.size:  # sorted and consecutive: reduce a slice, no copy
                peaks.append(_peaks(by_tile[chunk[0] : chunk[-1] + 1]))
            else:
                peaks.append(_peaks(by_tile[chunk]))
        return np.concatenate(peaks) if peaks else np.empty(0, dtype=self.buffer.dtype)


def _runs(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``[start, end)`` of each run of consecutive values in the sorted ``ids``."""
    breaks = np.flatnonzero(np.diff(ids) != 1) + 1
    return ids[np.concatenate(([0], breaks))], ids[np.concatenate((breaks - 1, [ids.size - 1]))] + 1


def _peaks(tiles: np.ndarray) -> np.ndarray:
    """Each row's max |value|, without an |tiles| temporary (``-min`` wraps exactly as ``abs``)."""
    if tiles.dtype.kind == "u":
        return tiles.max(axis=1)
    return np.maximum(tiles.max(axis=1), -tiles.min(axis=1))
