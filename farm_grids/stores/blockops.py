"""Block operations over square tiles of a dense grid: merged runs, batched isolated tiles, fade-out."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from farm_grids.errors import InvalidGridSpecError
from farm_grids.stores.tiled import TileGrid

__all__ = ["merge_tile_runs", "scale_tile_major", "scale_tiles", "tile_regions", "tile_runs", "validate_tile_mask"]

# Isolated tiles scaled per gather: 256 float32 64x64 tiles is 4 MiB, so a mostly isolated
# active set never needs a temporary the size of the grid.
_GATHER_CHUNK = 256


def validate_tile_mask(mask: object, shape: tuple[int, int], tile_size: object) -> np.ndarray:
    """``mask`` as a bool array with one cell per ``tile_size``-square tile of ``shape``."""
    if isinstance(tile_size, bool) or not isinstance(tile_size, (int, np.integer)) or tile_size <= 0:
        raise InvalidGridSpecError(f"tile_size must be a positive integer, got {tile_size!r}")
    size = int(tile_size)
    expected = (-(-shape[0] // size), -(-shape[1] // size))
    array = np.asarray(mask)
    if array.dtype != np.bool_ or array.shape != expected:
        raise InvalidGridSpecError(f"tile mask must be a bool array of shape {expected}, got {array.dtype} {array.shape}")
    return array


def tile_runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tile row, first tile column, end tile column) of every run of adjacent marked tiles."""
    active = np.flatnonzero(mask)  # row-major, so a run is consecutive flat indices
    if active.size == 0:
        return active, active, active
    rows, cols = np.divmod(active, mask.shape[1])
    first = np.ones(active.shape, dtype=bool)
    first[1:] = (active[1:] != active[:-1] + 1) | (rows[1:] != rows[:-1])
    starts = np.flatnonzero(first)
    lasts = np.append(starts[1:] - 1, active.size - 1)
    return rows[starts], cols[starts], cols[lasts] + 1


def merge_tile_runs(
    shape: tuple[int, int], tile_size: int, run_rows: np.ndarray, run_starts: np.ndarray, run_ends: np.ndarray
) -> list[tuple[slice, slice]]:
    """Cell rectangles of the runs; a run repeated with the same columns one tile row down joins it."""
    merged: list[list[int]] = []  # [row0, row1 (exclusive), col0, col1 (exclusive)] in tiles
    latest: dict[tuple[int, int], int] = {}
    for row, start, end in zip(run_rows.tolist(), run_starts.tolist(), run_ends.tolist()):
        index = latest.get((start, end))
        if index is not None and merged[index][1] == row:
            merged[index][1] = row + 1
        else:
            latest[(start, end)] = len(merged)
            merged.append([row, row + 1, start, end])
    height, width = shape
    return [
        (slice(r0 * tile_size, min(r1 * tile_size, height)), slice(c0 * tile_size, min(c1 * tile_size, width)))
        for r0, r1, c0, c1 in merged
    ]


def tile_regions(mask: np.ndarray, shape: tuple[int, int], tile_size: int) -> list[tuple[slice, slice]]:
    """Cell rectangles covering exactly the marked tiles, as few as cheaply found."""
    if not mask.any():
        return []
    if mask.all():
        return [(slice(0, shape[0]), slice(0, shape[1]))]
    return merge_tile_runs(shape, tile_size, *tile_runs(mask))


def scale_tiles(grid: np.ndarray, mask: np.ndarray, tile_size: int, factor: object, floor: float) -> np.ndarray:
    """Multiply the marked tiles of ``grid`` by ``factor`` in place; returns the tiles that faded.

    With ``floor > 0`` a marked tile whose max |value| ends below it is zeroed and reported.
    A fully marked grid is one whole-grid multiply; runs of two or more tiles are one slice
    multiply each; isolated whole tiles are gathered, scaled and scattered back in batches,
    because a per-tile slice multiply costs one ufunc inner loop per tile row and numpy's
    fancy indexing copies those rows with less overhead.
    """
    faded = np.zeros(mask.shape, dtype=bool)
    if not mask.any():
        return faded
    shape = grid.shape
    if mask.all():
        np.multiply(grid, factor, out=grid, casting="unsafe")
        if floor > 0.0:
            _fade_regions(grid, tile_size, floor, [(slice(0, shape[0]), slice(0, shape[1]))], faded)
        return faded
    run_rows, run_starts, run_ends = tile_runs(mask)
    isolated = (
        (run_ends - run_starts == 1)
        & (run_rows < shape[0] // tile_size)
        & (run_starts < shape[1] // tile_size)
    )
    regions = merge_tile_runs(shape, tile_size, run_rows[~isolated], run_starts[~isolated], run_ends[~isolated])
    for region in regions:
        target = grid[region]
        np.multiply(target, factor, out=target, casting="unsafe")
    if floor > 0.0:
        _fade_regions(grid, tile_size, floor, regions, faded)
    if isolated.any():
        _scale_isolated(grid, tile_size, factor, floor, run_rows[isolated], run_starts[isolated], faded)
    return faded


def _scale_isolated(
    grid: np.ndarray, size: int, factor: object, floor: float,
    tile_rows: np.ndarray, tile_cols: np.ndarray, faded: np.ndarray,
) -> None:
    height, width = grid.shape
    # tiles[ty, :, tx, :] is the whole tile (ty, tx); only whole tiles fit this view.
    tiles = as_strided(
        grid,
        shape=(height // size, size, width // size, size),
        strides=(size * grid.strides[0], grid.strides[0], size * grid.strides[1], grid.strides[1]),
    )
    for start in range(0, tile_rows.size, _GATHER_CHUNK):
        ty, tx = tile_rows[start : start + _GATHER_CHUNK], tile_cols[start : start + _GATHER_CHUNK]
        batch = tiles[ty, :, tx, :]
        np.multiply(batch, factor, out=batch, casting="unsafe")
        if floor > 0.0:
            gone = np.abs(batch).max(axis=(1, 2)) < floor
            if gone.any():
                batch[gone] = 0
                faded[ty[gone], tx[gone]] = True
        tiles[ty, :, tx, :] = batch


def _fade_regions(
    grid: np.ndarray, size: int, floor: float, regions: list[tuple[slice, slice]], faded: np.ndarray
) -> None:
    """Zero (and report in ``faded``) tiles in ``regions`` whose max |value| is below ``floor``."""
    for rows, cols in regions:
        block = grid[rows, cols]
        peaks = np.maximum.reduceat(np.abs(block), np.arange(0, block.shape[0], size), axis=0)
        peaks = np.maximum.reduceat(peaks, np.arange(0, block.shape[1], size), axis=1)
        for ty, tx in zip(*np.nonzero(peaks < floor)):
            tile_row, tile_col = rows.start // size + int(ty), cols.start // size + int(tx)
            grid[tile_row * size : (tile_row + 1) * size, tile_col * size : (tile_col + 1) * size] = 0
            faded[tile_row, tile_col] = True


def scale_tile_major(grid: TileGrid, mask: np.ndarray, tile_size: int, factor: object, floor: float) -> np.ndarray:
    """``scale_tiles`` on a tile-major grid whose storage tile divides ``tile_size``.

    Decay tiles equal to the storage tiles are scaled as contiguous tiles in one pass; a decay
    tile k storage tiles wide marks its k x k storage tiles, which are scaled the same way, and
    with ``floor > 0`` its peak is the max of theirs.
    """
    t = grid.tile
    if tile_size == t:
        return grid.scale_marked_tiles(mask, factor, floor)
    k = tile_size // t
    storage = np.repeat(np.repeat(mask, k, axis=0), k, axis=1)[: grid.ny, : grid.nx]
    grid.scale_marked_tiles(storage, factor, 0.0)
    faded = np.zeros(mask.shape, dtype=bool)
    if floor <= 0.0:
        return faded
    marked = np.flatnonzero(storage)
    peaks = np.zeros((mask.shape[0] * k, mask.shape[1] * k), dtype=np.float64)
    peaks[np.divmod(marked, grid.nx)] = grid.tile_peaks(marked)
    # A NaN peak never fades, as ``abs(block).max() < floor`` never holds for one.
    low = peaks.reshape(mask.shape[0], k, mask.shape[1], k).max(axis=(1, 3)) < floor
    faded[...] = low & mask
    if faded.any():
        gone = np.repeat(np.repeat(faded, k, axis=0), k, axis=1)[: grid.ny, : grid.nx]
        grid.buffer.reshape(-1, t * t)[np.flatnonzero(gone)] = 0
    return faded
