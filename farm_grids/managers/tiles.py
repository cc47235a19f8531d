"""ActiveTiles: which square tiles of a grid may hold non-zero values, so decay follows the active area."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from farm_grids.managers.base import validate_dimension

__all__ = ["ActiveTiles"]

# Isolated tiles scaled per gather: 256 float32 64x64 tiles is 4 MiB, so a mostly isolated
# active set never needs a temporary the size of the grid.
_GATHER_CHUNK = 256


class ActiveTiles:
    """A boolean mask over ``tile_size``-square tiles of a ``height x width`` grid.

    Invariant kept by the temporal manager: every non-zero cell written through it lies in
    an active tile, so scaling only the active tiles equals scaling the whole grid.
    """

    def __init__(self, height: int, width: int, tile_size: int) -> None:
        self.height = validate_dimension(height, "height")
        self.width = validate_dimension(width, "width")
        self.tile_size = validate_dimension(tile_size, "tile_size")
        shape = (-(-self.height // self.tile_size), -(-self.width // self.tile_size))
        self.mask = np.zeros(shape, dtype=bool)

    @property
    def count(self) -> int:
        return int(np.count_nonzero(self.mask))

    def mark(self, rows: np.ndarray, cols: np.ndarray) -> None:
        """Activate the tiles holding the (in-bounds) cells ``(rows[i], cols[i])``."""
        self.mask[rows // self.tile_size, cols // self.tile_size] = True

    def mark_all(self) -> None:
        self.mask[...] = True

    def clear(self) -> None:
        self.mask[...] = False

    def blocks(self) -> list[tuple[slice, slice]]:
        """Cell-coordinate rectangles covering exactly the active tiles, as few as cheaply found.

        Runs of adjacent active tiles in a tile row become one rectangle; a run repeated with
        the same columns in the next tile row extends it downwards.
        """
        if not self.mask.any():
            return []
        if self.mask.all():
            return [self._whole]
        return self._merged(*self._runs())

    @property
    def _whole(self) -> tuple[slice, slice]:
        return (slice(0, self.height), slice(0, self.width))

    def _runs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(tile row, first tile column, end tile column) of every run of adjacent active tiles."""
        active = np.flatnonzero(self.mask)  # row-major, so a run is consecutive flat indices
        if active.size == 0:
            return active, active, active
        rows, cols = np.divmod(active, self.mask.shape[1])
        first = np.ones(active.shape, dtype=bool)
        first[1:] = (active[1:] != active[:-1] + 1) | (rows[1:] != rows[:-1])
        starts = np.flatnonzero(first)
        lasts = np.append(starts[1:] - 1, active.size - 1)
        return rows[starts], cols[starts], cols[lasts] + 1

    def _merged(
        self, run_rows: np.ndarray, run_starts: np.ndarray, run_ends: np.ndarray
    ) -> list[tuple[slice, slice]]:
        merged: list[list[int]] = []  # [row0, row1 (exclusive), col0, col1 (exclusive)] in tiles
        latest: dict[tuple[int, int], int] = {}
        for row, start, end in zip(run_rows.tolist(), run_starts.tolist(), run_ends.tolist()):
            index = latest.get((start, end))
            if index is not None and merged[index][1] == row:
                merged[index][1] = row + 1
            else:
                latest[(start, end)] = len(merged)
                merged.append([row, row + 1, start, end])
        size = self.tile_size
        return [
            (slice(r0 * size, min(r1 * size, self.height)), slice(c0 * size, min(c1 * size, self.width)))
            for r0, r1, c0, c1 in merged
        ]

    def scale(self, grid: np.ndarray, factor: np.generic, floor: float = 0.0) -> int:
        """Multiply the active tiles of ``grid`` by ``factor`` in place; returns tiles dropped.

        With ``floor > 0`` an active tile whose max |value| ends below it is zeroed and
        deactivated. A fully active grid is one whole-grid multiply; runs of two or more
        tiles are one slice multiply each; isolated whole tiles are gathered, scaled and
        scattered back in batches, because a per-tile slice multiply costs one ufunc inner
        loop per tile row and numpy's fancy indexing copies those rows with less overhead.
        """
        if not self.mask.any():
            return 0
        if self.mask.all():
            np.multiply(grid, factor, out=grid)
            return self._drop_faded_regions(grid, floor, [self._whole]) if floor > 0.0 else 0
        run_rows, run_starts, run_ends = self._runs()
        size = self.tile_size
        isolated = (
            (run_ends - run_starts == 1)
            & (run_rows < self.height // size)
            & (run_starts < self.width // size)
        )
        regions = self._merged(run_rows[~isolated], run_starts[~isolated], run_ends[~isolated])
        for region in regions:
            target = grid[region]
            np.multiply(target, factor, out=target)
        dropped = self._drop_faded_regions(grid, floor, regions) if floor > 0.0 else 0
        if isolated.any():
            dropped += self._scale_isolated(grid, factor, floor, run_rows[isolated], run_starts[isolated])
        return dropped

    def _scale_isolated(
        self, grid: np.ndarray, factor: np.generic, floor: float, tile_rows: np.ndarray, tile_cols: np.ndarray
    ) -> int:
        size = self.tile_size
        # tiles[ty, :, tx, :] is the whole tile (ty, tx); only whole tiles fit this view.
        tiles = as_strided(
            grid,
            shape=(self.height // size, size, self.width // size, size),
            strides=(size * grid.strides[0], grid.strides[0], size * grid.strides[1], grid.strides[1]),
        )
        dropped = 0
        for start in range(0, tile_rows.size, _GATHER_CHUNK):
            ty, tx = tile_rows[start : start + _GATHER_CHUNK], tile_cols[start : start + _GATHER_CHUNK]
            batch = tiles[ty, :, tx, :]
            np.multiply(batch, factor, out=batch)
            if floor > 0.0:
                faded = np.abs(batch).max(axis=(1, 2)) < floor
                if faded.any():
                    batch[faded] = 0
                    self.mask[ty[faded], tx[faded]] = False
                    dropped += int(np.count_nonzero(faded))
            tiles[ty, :, tx, :] = batch
        return dropped

    def _drop_faded_regions(self, grid: np.ndarray, floor: float, regions: list[tuple[slice, slice]]) -> int:
        """Zero and deactivate active tiles in ``regions`` whose max |value| is below ``floor``."""
        size = self.tile_size
        dropped = 0
        for rows, cols in regions:
            block = grid[rows, cols]
            peaks = np.maximum.reduceat(np.abs(block), np.arange(0, block.shape[0], size), axis=0)
            peaks = np.maximum.reduceat(peaks, np.arange(0, block.shape[1], size), axis=1)
            for ty, tx in zip(*np.nonzero(peaks < floor)):
                tile_row, tile_col = rows.start // size + int(ty), cols.start // size + int(tx)
                grid[tile_row * size : (tile_row + 1) * size, tile_col * size : (tile_col + 1) * size] = 0
                self.mask[tile_row, tile_col] = False
                dropped += 1
        return dropped
