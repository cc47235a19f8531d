"""ActiveTiles: which square tiles of a grid may hold non-zero values, so decay follows the active area."""

from __future__ import annotations

import numpy as np

from farm_grids.limits import check_request
from farm_grids.managers.base import validate_dimension
from farm_grids.stores.blockops import tile_regions

__all__ = ["ActiveTiles"]


class ActiveTiles:
    """A boolean mask over ``tile_size``-square tiles of a ``height x width`` grid.

    Invariant kept by the temporal manager: every non-zero cell written through it lies in
    an active tile, so scaling only the active tiles (``GridStore.scale_tiles``) equals
    scaling the whole grid.
    """

    def __init__(self, height: int, width: int, tile_size: int) -> None:
        self.height = validate_dimension(height, "height")
        self.width = validate_dimension(width, "width")
        self.tile_size = validate_dimension(tile_size, "tile_size")
        shape = (-(-self.height // self.tile_size), -(-self.width // self.tile_size))
        check_request(shape[0] * shape[1], f"the active-tile mask of a {self.height}x{self.width} grid")
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

    def drop(self, faded: np.ndarray) -> int:
        """Deactivate the tiles ``faded`` marks (decay zeroed them); returns how many."""
        count = int(np.count_nonzero(faded & self.mask))
        self.mask &= ~faded
        return count

    def blocks(self) -> list[tuple[slice, slice]]:
        """Cell-coordinate rectangles covering exactly the active tiles, as few as cheaply found.

        Runs of adjacent active tiles in a tile row become one rectangle; a run repeated with
        the same columns in the next tile row extends it downwards.
        """
        return tile_regions(self.mask, (self.height, self.width), self.tile_size)
