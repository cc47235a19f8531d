"""Which pages of one mapping are known to be in the page cache, and a per-window check of them that costs four lookups."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from farm_grids.stores.extents import plan_tile_bounds
from farm_grids.stores.memmap.pagecache import PAGE

if TYPE_CHECKING:
    from farm_grids.stores.tiled import TileGrid
    from farm_grids.windows import WindowPlan

__all__ = ["MAX_TABLE_PAGES", "KnownPages", "RectangleCorners", "plan_corners", "plan_page_rectangles",
           "plan_tile_page_rectangles", "rectangle_corners"]

# A summed table over more pages than this is not built: at 2^20 pages (a 4 GiB grid) a
# rebuild costs a few ms, which a warm gather of 1,000 windows must not pay once per tick.
MAX_TABLE_PAGES = 1 << 20


class KnownPages:
    """Pages seen resident (mincore) or asked for (WILLNEED) through one mapping.

    A warm gather asks this instead of the kernel: mincore of a 64 MiB mapping costs
    ~0.2 ms, more than a 1,000-window gather. A page the kernel evicts later under memory
    pressure faults back in on the read: slower, never wrong. Pages only ever become known,
    so a count of changes tells whether the summed table is still current.
    """

    def __init__(self, pages: int) -> None:
        self.bits = np.zeros(pages, dtype=bool)
        self.all = False
        self._changes = 0
        self._table: np.ndarray | None = None
        self._table_key: tuple[int, int, int] | None = None  # (page rows, page columns, changes)

    def add(self, first: int, cached: np.ndarray) -> None:
        """Pages ``first .. first + len(cached)`` where ``cached`` is True are known now."""
        self.bits[first:first + cached.size] |= cached
        self._changes += 1
        if first == 0 and cached.size == self.bits.size:
            self.all = bool(self.bits.all())

    def add_runs(self, firsts: list[int], ends: list[int]) -> None:
        """Every page of the runs ``[a, b)`` is known now (they were asked for)."""
        for a, b in zip(firsts, ends):
            self.bits[a:b] = True
        self._changes += 1

    def cover(self, first: np.ndarray, last: np.ndarray) -> bool:
        """Whether pages ``first[i]`` and ``last[i]`` are known for every i."""
        return bool(self.bits[first].all() and self.bits[last].all())

    def cover_rectangles(self, grid: tuple[int, int], r0: np.ndarray, r1: np.ndarray,
                         c0: np.ndarray, c1: np.ndarray) -> bool:
        """Whether every page of each rectangle ``[r0, r1) x [c0, c1)`` of the page grid is known.

        ``grid`` is (page rows, pages per row), page ``r * columns + c``. A summed table of the
        unknown pages answers each rectangle with four lookups: a 1,000-window gather is
        checked in ~30 us where the exact page list of its 13,000 row segments cost ~0.35 ms.
        """
        return self.cover_corners(rectangle_corners(grid, r0, r1, c0, c1))

    def cover_corners(self, corners: RectangleCorners) -> bool:
        """``cover_rectangles`` with the rectangles' corners already found (one take, two sums)."""
        if self.all:
            return True
        table = self._summed_table(corners.grid)
        if table is None:
            return False
        # Every rectangle's count of unknown pages is >= 0, so all are 0 exactly when their
        # sum is: the sum of the corners added equals the sum of the corners taken away.
        values = table.reshape(-1).take(corners.index)
        half = corners.index.size // 2
        return bool(values[:half].sum(dtype=np.int64) == values[half:].sum(dtype=np.int64))

    def _summed_table(self, grid: tuple[int, int]) -> np.ndarray | None:
        rows, columns = grid
        if rows * columns > min(MAX_TABLE_PAGES, self.bits.size):
            return None
        key = (rows, columns, self._changes)
        if self._table_key != key:
            unknown = (~self.bits[: rows * columns]).reshape(rows, columns)
            table = np.zeros((rows + 1, columns + 1), dtype=np.int32)
            np.cumsum(unknown, axis=0, dtype=np.int32, out=table[1:, 1:])
            np.cumsum(table[1:, 1:], axis=1, out=table[1:, 1:])
            self._table, self._table_key = table, key
        return self._table


@dataclass(frozen=True)
class RectangleCorners:
    """Where rectangles of a page grid have their corners in its summed table (``grid[1] + 1`` wide).

    ``index`` holds the corners added (bottom-right, top-left) and then those taken away
    (top-right, bottom-left): a plan computes it once for every layer it gathers.
    """

    grid: tuple[int, int]
    index: np.ndarray


def rectangle_corners(grid: tuple[int, int], r0: np.ndarray, r1: np.ndarray, c0: np.ndarray,
                      c1: np.ndarray) -> RectangleCorners:
    """The summed-table corners of rectangles ``[r0, r1) x [c0, c1)`` of page grid ``grid``."""
    columns = grid[1] + 1
    top, bottom = r0 * columns, r1 * columns
    index = np.concatenate([bottom + c1, top + c0, top + c1, bottom + c0])
    # A table is built only up to MAX_TABLE_PAGES, so int32 indexes it: half the memory that
    # each layer's lookups pull through a cache the gathers between them have just swept.
    return RectangleCorners(grid, index.astype(np.int32) if index.size and index.max() < 2**31 else index)


def plan_corners(plan: WindowPlan, itemsize: int, tiles: TileGrid | None = None) -> RectangleCorners | None:
    """The page-rectangle corners of ``plan``'s windows (rows layout, or ``tiles``), once per plan."""
    key = ("page-corners", itemsize, None if tiles is None else tiles.tile)

    def compute() -> RectangleCorners | None:
        found = plan_page_rectangles(plan, itemsize) if tiles is None else plan_tile_page_rectangles(tiles, itemsize, plan)
        return None if found is None else rectangle_corners(*found)

    return plan.derived(key, compute)


def plan_page_rectangles(
    plan: WindowPlan, itemsize: int
) -> tuple[tuple[int, int], np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """The rectangle of pages each planned window reads in a row-major grid: (grid, r0, r1, c0, c1).

    Defined when a row is a whole number of pages or a page a whole number of rows (the
    world sizes, powers of two); None otherwise, and the caller takes the exact page list.
    """
    height, width = plan.shape
    row_bytes = width * itemsize
    if row_bytes % PAGE == 0:
        rows_per_page, grid = 1, (height, row_bytes // PAGE)
    elif PAGE % row_bytes == 0:
        rows_per_page = PAGE // row_bytes
        grid = (-(-height // rows_per_page), 1)
    else:
        return None
    origins = plan.positions.astype(np.int64, copy=False)
    y0 = origins // width
    x0 = origins - y0 * width
    y1, x1 = y0 + plan.side, x0 + plan.side  # half-open
    if plan.edge.size:
        # Edge windows: their clipped rows and columns (the clip keeps them in order).
        y0 = np.concatenate([y0, plan.edge_rows[:, 0, 0]])
        y1 = np.concatenate([y1, plan.edge_rows[:, -1, 0] + 1])
        x0 = np.concatenate([x0, plan.edge_cols[:, 0, 0]])
        x1 = np.concatenate([x1, plan.edge_cols[:, 0, -1] + 1])
    r0, r1 = y0 // rows_per_page, (y1 - 1) // rows_per_page + 1
    c0, c1 = (x0 * itemsize) // PAGE, (x1 * itemsize - 1) // PAGE + 1
    return grid, r0, r1, c0, c1


def plan_tile_page_rectangles(
    grid: TileGrid, itemsize: int, plan: WindowPlan
) -> tuple[tuple[int, int], np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """The rectangle of pages of the whole tiles each planned window reads in a tile-major file.

    Tile (ty, tx) is pages ``(ty * nx + tx) * k .. + k`` for a tile of k whole pages, so in a
    page grid of (ny, nx * k) it is row ty, columns ``tx * k .. (tx + 1) * k``: the tiles
    ``plan_tile_extents`` lists. None when a tile is not a whole number of pages.
    """
    tile_bytes = grid.tile * grid.tile * itemsize
    if tile_bytes % PAGE:
        return None
    pages = tile_bytes // PAGE
    ly, hy, lx, hx = plan_tile_bounds(grid, plan)
    return (grid.ny, grid.nx * pages), ly, hy + 1, lx * pages, (hx + 1) * pages
