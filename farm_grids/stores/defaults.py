"""Default fast paths built only from a backend's region primitives (read/write an in-bounds region).

A backend without a dense array (tiles, chunks) works through these until it overrides
them; each is correct for any layout and slower than a backend's own version.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from farm_grids.stores.blockops import tile_regions, validate_tile_mask
from farm_grids.stores.entry import GridEntry
from farm_grids.windows import WindowPlan, prepare_out, validate_normalizer

__all__ = ["gather", "read_cells", "scale_tiles", "scatter", "validate_tile_mask", "write_cells"]

ReadRegion = Callable[[GridEntry, slice, slice, np.ndarray], None]
WriteRegion = Callable[[GridEntry, slice, slice, np.ndarray], None]


def gather(read_region: ReadRegion, entry: GridEntry, plan: WindowPlan, normalize_by: float | None,
           out: np.ndarray | None) -> np.ndarray:
    """A planned window gather, one region read per window; outside cells read zero."""
    norm = validate_normalizer(normalize_by)
    side = plan.side
    out = prepare_out(out, (plan.count, side, side), np.float32)
    if out is None:
        out = np.zeros((plan.count, side, side), dtype=np.float32)
    height, width = entry.shape
    interior_rows = np.arange(plan.positions.size) if plan.interior is None else plan.interior
    for row, origin in zip(interior_rows.tolist(), plan.positions.tolist()):
        y0, x0 = divmod(origin, width)
        read_region(entry, slice(y0, y0 + side), slice(x0, x0 + side), out[row])
    r = plan.radius
    for row, y, x in zip(plan.edge.tolist(), plan.edge_ys.tolist(), plan.edge_xs.tolist()):
        window = out[row]
        window[...] = 0
        rows = slice(max(y - r, 0), min(y + r + 1, height))
        cols = slice(max(x - r, 0), min(x + r + 1, width))
        if rows.stop > rows.start and cols.stop > cols.start:
            target = window[rows.start - (y - r) : rows.stop - (y - r), cols.start - (x - r) : cols.stop - (x - r)]
            read_region(entry, rows, cols, target)
    if norm is not None:
        np.divide(out, norm, out=out, casting="unsafe")  # as the array path does: every row of out
    return out


def read_cells(read_region: ReadRegion, entry: GridEntry, flat: np.ndarray) -> np.ndarray:
    values = np.empty(flat.shape, dtype=entry.dtype)
    width = entry.shape[1]
    cell = np.empty((1, 1), dtype=entry.dtype)
    for i, index in enumerate(flat.tolist()):
        y, x = divmod(index, width)
        read_region(entry, slice(y, y + 1), slice(x, x + 1), cell)
        values[i] = cell[0, 0]
    return values


def write_cells(write_region: WriteRegion, entry: GridEntry, flat: np.ndarray, values: np.ndarray) -> None:
    width = entry.shape[1]
    for index, value in zip(flat.tolist(), values):
        y, x = divmod(index, width)
        write_region(entry, slice(y, y + 1), slice(x, x + 1), np.full((1, 1), value, dtype=entry.dtype))


def scatter(read: Callable[[GridEntry, np.ndarray], np.ndarray],
            write: Callable[[GridEntry, np.ndarray, np.ndarray], None],
            flat: np.ndarray, amounts: np.ndarray, accumulate: bool, clip_max: float | None,
            entry: GridEntry) -> None:
    """Add (or set, last winning) ``amounts`` at cells ``flat``, then clip those cells.

    Adds run in point order in the grid's dtype, exactly as ``np.add.at`` on a dense grid.
    """
    cells, inverse = np.unique(flat, return_inverse=True)
    current = read(entry, cells)
    amounts = amounts.astype(entry.dtype, copy=False)
    if accumulate:
        np.add.at(current, inverse, amounts)
    else:
        last = np.zeros(cells.size, dtype=np.intp)
        last[inverse] = np.arange(flat.size)  # fancy assignment: the last write of a cell stays
        current = amounts[last]
    if clip_max is not None:
        np.minimum(current, entry.dtype.type(clip_max), out=current)
    write(entry, cells, current)


def scale_tiles(apply_region: Callable[..., None], read_region: ReadRegion, fill_region: Callable[..., None],
                entry: GridEntry, mask: np.ndarray, tile_size: int, factor: object, floor: float) -> np.ndarray:
    """Multiply the marked tiles; zero (and report) those whose max |value| ends below ``floor``."""
    faded = np.zeros(mask.shape, dtype=bool)
    for rows, cols in tile_regions(mask, entry.shape, tile_size):
        apply_region(entry, rows, cols, lambda block: np.multiply(block, factor, out=block, casting="unsafe"))
    if floor <= 0.0:
        return faded
    height, width = entry.shape
    for ty, tx in zip(*np.nonzero(mask)):
        rows = slice(int(ty) * tile_size, min((int(ty) + 1) * tile_size, height))
        cols = slice(int(tx) * tile_size, min((int(tx) + 1) * tile_size, width))
        # Read whole: an apply_region op may see the tile in pieces (one per chunk), and a
        # peak is a reduction over all of them, not an elementwise operation.
        block = np.empty((rows.stop - rows.start, cols.stop - cols.start), dtype=entry.dtype)
        read_region(entry, rows, cols, block)
        if np.abs(block).max() < floor:
            fill_region(entry, rows, cols, 0)
            faded[ty, tx] = True
    return faded
