"""Byte extents of grid accesses (cells, regions, windows) in a row-major file, and block runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from farm_grids.stores.tiled import TileGrid
    from farm_grids.windows import WindowPlan

__all__ = ["cell_extents", "merge_runs", "plan_extents", "plan_tile_extents", "region_extents", "tile_extents",
           "tile_segment_end_cells", "window_extents"]


def cell_extents(flat_index: np.ndarray, itemsize: int) -> tuple[np.ndarray, np.ndarray]:
    """Byte ``[start, end)`` of each cell ``flat_index[i]``."""
    starts = flat_index.astype(np.int64, copy=False) * itemsize
    return starts, starts + itemsize


def region_extents(
    shape: tuple[int, int], itemsize: int, rows: slice, cols: slice
) -> tuple[np.ndarray, np.ndarray]:
    """Byte ``[start, end)`` of each row segment of ``grid[rows, cols]`` (slices already clipped).

    A region spanning whole rows is one contiguous extent.
    """
    height, width = shape
    y0, y1, _ = rows.indices(height)
    x0, x1, _ = cols.indices(width)
    if y1 <= y0 or x1 <= x0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    if x0 == 0 and x1 == width:
        return np.array([y0 * width * itemsize], dtype=np.int64), np.array([y1 * width * itemsize], dtype=np.int64)
    starts = (np.arange(y0, y1, dtype=np.int64) * width + x0) * itemsize
    return starts, starts + (x1 - x0) * itemsize


def tile_segment_end_cells(shape: tuple[int, int], ty: np.ndarray, tx: np.ndarray, tile_size: int) -> np.ndarray:
    """Flat indices of the first and the last cell of every in-grid row segment of tiles ``(ty, tx)``.

    A segment no longer than a block lies in the blocks of its two end cells, so these
    cells reserve exactly the blocks the tiles' rows touch.
    """
    height, width = shape
    rows = ty.astype(np.int64)[:, None] * tile_size + np.arange(tile_size, dtype=np.int64)[None, :]
    x0 = (tx.astype(np.int64) * tile_size)[:, None]
    x1 = np.minimum(x0 + tile_size, width)
    keep = rows < height
    line = rows * width
    return np.concatenate([(line + x0)[keep], (line + x1 - 1)[keep]])


def window_extents(
    shape: tuple[int, int], itemsize: int, ys: np.ndarray, xs: np.ndarray, radius: int
) -> tuple[np.ndarray, np.ndarray]:
    """Byte ``[start, end)`` of every in-grid row segment of the square windows at ``(ys, xs)``."""
    height, width = shape
    offsets = np.arange(-radius, radius + 1, dtype=np.int64)
    rows = ys.astype(np.int64)[:, None] + offsets[None, :]
    x0 = np.clip(xs.astype(np.int64) - radius, 0, width)[:, None]
    x1 = np.clip(xs.astype(np.int64) + radius + 1, 0, width)[:, None]
    keep = (rows >= 0) & (rows < height) & (x1 > x0)
    starts = (rows * width + x0)[keep] * itemsize
    ends = (rows * width + x1)[keep] * itemsize
    return starts, ends


def merge_runs(first: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge inclusive block ranges ``[first[i], last[i]]`` into sorted disjoint runs ``[a, b)``.

    Overlapping and adjacent ranges join, so each run costs one system call.
    """
    if first.size == 0:
        return first, last
    order = np.argsort(first, kind="stable")
    first, last = first[order], last[order]
    reach = np.maximum.accumulate(last)
    starts = np.ones(first.size, dtype=bool)
    starts[1:] = first[1:] > reach[:-1] + 1
    begin = np.flatnonzero(starts)
    stop = np.append(begin[1:], first.size) - 1
    return first[begin], reach[stop] + 1


def plan_extents(plan: WindowPlan, itemsize: int) -> tuple[np.ndarray, np.ndarray]:
    """Byte extents of every in-grid row segment a planned gather reads."""
    height, width = plan.shape
    side = plan.side
    origins = plan.positions.astype(np.int64, copy=False)
    y0, x0 = np.divmod(origins, width)
    rows = y0[:, None] + np.arange(side, dtype=np.int64)[None, :]
    starts = [((rows * width) + x0[:, None]).reshape(-1) * itemsize]
    ends = [starts[0] + side * itemsize]
    if plan.edge.size:
        # Edge windows: their clipped rows, each read from the first to the last clipped column.
        edge_rows = plan.edge_rows[:, :, 0].astype(np.int64)
        first = plan.edge_cols[:, 0, 0].astype(np.int64)[:, None]
        last = plan.edge_cols[:, 0, -1].astype(np.int64)[:, None]
        starts.append(((edge_rows * width) + first).reshape(-1) * itemsize)
        ends.append(((edge_rows * width) + last + 1).reshape(-1) * itemsize)
    return np.concatenate(starts), np.concatenate(ends)


def tile_extents(grid: TileGrid, itemsize: int, tile_rows: slice, tile_cols: slice) -> tuple[np.ndarray, np.ndarray]:
    """Byte extents of the whole tiles in a rectangle of tiles of a tile-major file (row runs merged)."""
    tile_bytes = grid.tile * grid.tile * itemsize
    rows = np.arange(tile_rows.start, tile_rows.stop, dtype=np.int64)
    starts = (rows * grid.nx + tile_cols.start) * tile_bytes
    return starts, starts + (tile_cols.stop - tile_cols.start) * tile_bytes


def plan_tile_bounds(grid: TileGrid, plan: WindowPlan) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The first and last tile row and tile column (inclusive) each planned window reads."""
    t, height, width = grid.tile, grid.shape[0], grid.shape[1]
    y0, x0 = np.divmod(plan.positions.astype(np.int64), width)
    lows_y, highs_y, lows_x, highs_x = [y0], [y0 + plan.side - 1], [x0], [x0 + plan.side - 1]
    if plan.edge.size:
        r = plan.radius
        lows_y.append(np.clip(plan.edge_ys - r, 0, height - 1))
        highs_y.append(np.clip(plan.edge_ys + r, 0, height - 1))
        lows_x.append(np.clip(plan.edge_xs - r, 0, width - 1))
        highs_x.append(np.clip(plan.edge_xs + r, 0, width - 1))
    ly, hy = np.concatenate(lows_y) // t, np.concatenate(highs_y) // t
    lx, hx = np.concatenate(lows_x) // t, np.concatenate(highs_x) // t
    return ly, hy, lx, hx


def plan_tile_extents(grid: TileGrid, itemsize: int, plan: WindowPlan) -> tuple[np.ndarray, np.ndarray]:
    """Byte extents of every tile a planned gather reads from a tile-major file."""
    ly, hy, lx, hx = plan_tile_bounds(grid, plan)
    tile_ids = []
    for dy in range(int((hy - ly).max(initial=-1)) + 1):
        for dx in range(int((hx - lx).max(initial=-1)) + 1):
            keep = (ly + dy <= hy) & (lx + dx <= hx)
            tile_ids.append((ly + dy)[keep] * grid.nx + (lx + dx)[keep])
    if not tile_ids:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    ids = np.unique(np.concatenate(tile_ids))
    tile_bytes = grid.tile * grid.tile * itemsize
    return ids * tile_bytes, (ids + 1) * tile_bytes
