"""Sparse (y, x, value) event layers: the fallback for transient channels without a world grid."""

from __future__ import annotations

import numpy as np

from farm_grids.points import flat_points, scatter
from farm_grids.values import checked_clip_max, checked_flag

__all__ = ["EVENT_DTYPE", "SparseEventLayer"]

EVENT_DTYPE = np.dtype(np.float32)  # the dtype of a dense world grid, which the sparse path mirrors


class SparseEventLayer:
    """Events in world coordinates, one value per cell, decayed at the world level.

    The arithmetic mirrors a dense float32 grid (accumulate, clip, multiply by gamma), so
    the dense and sparse paths give the same observation for the same deposits.
    """

    def __init__(self, height: int, width: int, dtype: object = EVENT_DTYPE) -> None:
        self.height = height
        self.width = width
        self.dtype = np.dtype(dtype)
        self.cells = np.empty(0, dtype=np.intp)  # sorted flat indices y * width + x
        self.values = np.empty(0, dtype=self.dtype)

    def __len__(self) -> int:
        return int(self.cells.size)

    def deposit(
        self,
        ys: object,
        xs: object,
        values: object,
        *,
        accumulate: bool = True,
        clip_max: float | None = None,
    ) -> int:
        # The value rules of a dense deposit (values.py): the same input is refused by both paths.
        flat, amounts = flat_points(ys, xs, values, (self.height, self.width), label="events", dtype=self.dtype)
        cap = checked_clip_max(clip_max, self.dtype)
        adds = checked_flag(accumulate, "accumulate")
        if flat.size == 0:
            return 0
        cells = np.union1d(self.cells, flat)
        merged = np.zeros(cells.size, dtype=self.dtype)
        merged[np.searchsorted(cells, self.cells)] = self.values
        scatter(merged, np.searchsorted(cells, flat), amounts, accumulate=adds, clip_max=cap)
        self.cells, self.values = cells, merged
        return int(flat.size)

    def decay(self, gamma: float, floor: float = 0.0) -> None:
        np.multiply(self.values, self.dtype.type(gamma), out=self.values)
        if floor > 0.0:
            keep = np.abs(self.values) >= floor
            self.cells, self.values = self.cells[keep], self.values[keep]

    def clear(self) -> None:
        self.cells = np.empty(0, dtype=np.intp)
        self.values = np.empty(0, dtype=self.dtype)

    def windows(self, ys: np.ndarray, xs: np.ndarray, radius: int, out: np.ndarray) -> None:
        """Rasterise the events around each centre into ``out`` (N, S, S); zeros elsewhere."""
        out[...] = 0
        if self.cells.size == 0:
            return
        ey, ex = np.divmod(self.cells, self.width)
        for i, (y, x) in enumerate(zip(ys.tolist(), xs.tolist())):
            near = (np.abs(ey - y) <= radius) & (np.abs(ex - x) <= radius)
            if near.any():
                out[i, ey[near] - y + radius, ex[near] - x + radius] = self.values[near]
