"""Byte extents (what a file backend reserves before it reads or writes) against the bytes a naive loop touches."""

from __future__ import annotations

import numpy as np
import pytest

from farm_grids.stores.extents import (
    cell_extents,
    merge_runs,
    plan_extents,
    region_extents,
    tile_extents,
    tile_segment_end_cells,
    window_extents,
)
from farm_grids.stores.tiled import TileGrid, tile_buffer_cells
from farm_grids.windows import plan_windows

SHAPE = (9, 13)
ITEMSIZE = 4


def covered(starts: np.ndarray, ends: np.ndarray, size: int) -> np.ndarray:
    """The file's bytes the extents ``[starts[i], ends[i])`` cover, as a mask."""
    mask = np.zeros(size, dtype=bool)
    for start, end in zip(starts.tolist(), ends.tolist()):
        assert 0 <= start <= end <= size, (start, end)
        mask[start:end] = True
    return mask


def cells_mask(cells: list[tuple[int, int]]) -> np.ndarray:
    """The bytes of ``cells`` (row, column) in a row-major file of SHAPE."""
    mask = np.zeros(SHAPE[0] * SHAPE[1] * ITEMSIZE, dtype=bool)
    for y, x in cells:
        start = (y * SHAPE[1] + x) * ITEMSIZE
        mask[start:start + ITEMSIZE] = True
    return mask


def window_cells(ys: list[int], xs: list[int], radius: int) -> list[tuple[int, int]]:
    height, width = SHAPE
    return [(y + dy, x + dx) for y, x in zip(ys, xs) for dy in range(-radius, radius + 1)
            for dx in range(-radius, radius + 1) if 0 <= y + dy < height and 0 <= x + dx < width]


CENTRES = [([4], [6]), ([0], [0]), ([8], [12]), ([-1], [5]), ([4], [13]), ([-5], [-5]), ([2, 7, 4], [1, 11, 6])]


@pytest.mark.parametrize("radius", [0, 1, 2])
@pytest.mark.parametrize(("ys", "xs"), CENTRES, ids=[f"{ys}-{xs}" for ys, xs in CENTRES])
def test_window_and_plan_extents_cover_exactly_the_windows_in_grid_cells(ys: list[int], xs: list[int],
                                                                          radius: int) -> None:
    size = SHAPE[0] * SHAPE[1] * ITEMSIZE
    expected = cells_mask(window_cells(ys, xs, radius))
    direct = window_extents(SHAPE, ITEMSIZE, np.array(ys), np.array(xs), radius)
    np.testing.assert_array_equal(covered(*direct, size), expected)
    planned = covered(*plan_extents(plan_windows(SHAPE, ys, xs, radius), ITEMSIZE), size)
    if all(window_cells([y], [x], radius) for y, x in zip(ys, xs)):
        # A planned edge window reads each clipped row from its first to its last clipped column: the same cells.
        np.testing.assert_array_equal(planned, expected)
    else:
        # A window wholly outside the grid reads nothing, but its plan's clipped indices still name an
        # in-grid cell, which is reserved too: harmless (a few bytes), so only coverage is required there.
        assert planned[expected].all()


@pytest.mark.parametrize("region", [(slice(0, 9), slice(0, 13)), (slice(2, 5), slice(0, 13)),
                                    (slice(1, 4), slice(3, 8)), (slice(3, 3), slice(0, 5)), (slice(0, 2), slice(12, 13))])
def test_region_extents_cover_exactly_the_region(region: tuple[slice, slice]) -> None:
    rows, cols = region
    cells = [(y, x) for y in range(*rows.indices(SHAPE[0])[:2]) for x in range(*cols.indices(SHAPE[1])[:2])]
    starts, ends = region_extents(SHAPE, ITEMSIZE, rows, cols)
    np.testing.assert_array_equal(covered(starts, ends, SHAPE[0] * SHAPE[1] * ITEMSIZE), cells_mask(cells))
    if cols == slice(0, 13) and cells:
        assert starts.size == 1  # whole rows: one contiguous extent


def test_cell_extents_cover_exactly_their_cells() -> None:
    size = SHAPE[0] * SHAPE[1] * ITEMSIZE
    flat = np.array([0, 14, 116])
    np.testing.assert_array_equal(covered(*cell_extents(flat, ITEMSIZE), size),
                                  cells_mask([divmod(int(i), SHAPE[1]) for i in flat]))


@pytest.mark.parametrize(("shape", "tile", "block"), [((9, 13), 4, 64), ((40, 37), 8, 128), ((64, 64), 16, 64)])
def test_tile_segment_end_cells_name_every_block_the_tiles_rows_touch(
    shape: tuple[int, int], tile: int, block: int
) -> None:
    # block: a block size in bytes at least one tile row long (the case the store uses them for).
    rng = np.random.default_rng(shape[0])
    ny, nx = -(-shape[0] // tile), -(-shape[1] // tile)
    marked = rng.choice(ny * nx, size=min(5, ny * nx), replace=False)
    ty, tx = np.divmod(marked, nx)
    ends = tile_segment_end_cells(shape, ty, tx, tile)
    named = {int(c) * ITEMSIZE // block for c in ends}
    touched = {((y * shape[1] + x) * ITEMSIZE) // block  # naive: every cell of every marked tile
               for a, b in zip(ty.tolist(), tx.tolist())
               for y in range(a * tile, min(a * tile + tile, shape[0]))
               for x in range(b * tile, min(b * tile + tile, shape[1]))}
    assert named == touched
    assert ends.dtype.kind == "i" and ends.min() >= 0 and ends.max() < shape[0] * shape[1]


def test_a_segment_ending_on_the_first_cell_of_a_block_names_that_block() -> None:
    # 17 cells a row, 16 a (64-byte) block: tile (0, 1)'s second row is cells 25..32, and cell 32
    # alone lies in block 2.
    ends = tile_segment_end_cells((3, 17), np.array([0]), np.array([1]), 8)
    assert sorted(ends.tolist()) == [8, 15, 25, 32, 42, 49]
    assert {c * ITEMSIZE // 64 for c in ends.tolist()} == {0, 1, 2, 3}


def test_merge_runs_joins_overlapping_and_adjacent_ranges_only() -> None:
    first, last = merge_runs(np.array([7, 0, 3, 12, 4]), np.array([9, 2, 3, 12, 5]))
    # [0,2] and [3,3] are adjacent, [4,5] adjacent again; [7,9] stands alone; [12,12] too.
    assert first.tolist() == [0, 7, 12] and last.tolist() == [6, 10, 13]
    empty = merge_runs(np.array([], dtype=np.int64), np.array([], dtype=np.int64))
    assert empty[0].size == 0 and empty[1].size == 0


@pytest.mark.parametrize(("tile_rows", "tile_cols"), [(slice(0, 1), slice(0, 1)), (slice(1, 3), slice(1, 3)),
                                                      (slice(0, 3), slice(2, 4)), (slice(2, 3), slice(0, 4))])
def test_tile_extents_cover_exactly_the_tiles_of_a_rectangle(tile_rows: slice, tile_cols: slice) -> None:
    shape, tile = (20, 27), 8  # 3 x 4 tiles, the last row and column of tiles padded
    grid = TileGrid(np.zeros(tile_buffer_cells(shape, tile), dtype=np.float32), shape, tile)
    tile_bytes = tile * tile * ITEMSIZE
    size = grid.ny * grid.nx * tile_bytes
    expected = np.zeros(size, dtype=bool)
    for ty in range(tile_rows.start, tile_rows.stop):  # tile-major: tile (ty, tx) is the (ty * nx + tx)-th block
        for tx in range(tile_cols.start, tile_cols.stop):
            first = (ty * grid.nx + tx) * tile_bytes
            expected[first : first + tile_bytes] = True
    np.testing.assert_array_equal(covered(*tile_extents(grid, ITEMSIZE, tile_rows, tile_cols), size), expected)
