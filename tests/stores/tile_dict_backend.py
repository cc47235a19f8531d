"""A genuinely chunked test backend: each grid is a dict of lazily made 16x16 tiles, no dense array anywhere."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from farm_grids.stores import GridEntry, GridStore

__all__ = ["BACKEND_NAME", "TILE", "TileDictStore", "TileGrid", "tile_dict_factory"]

BACKEND_NAME = "tile-dict"
TILE = 16


@dataclass
class TileGrid:
    """A grid's tiles, keyed by (tile row, tile column); an absent tile holds ``fill`` everywhere."""

    fill: object
    tiles: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)


def _check_region_buffer(entry: GridEntry, rows: slice, cols: slice, buffer: np.ndarray) -> None:
    """The contract's promise to a primitive: an in-bounds region and a buffer of exactly its shape (a lax
    backend would hide a generic operation that passes a bigger one; its dtype may differ: it is cast)."""
    height, width = entry.shape
    assert 0 <= rows.start <= rows.stop <= height and 0 <= cols.start <= cols.stop <= width, (rows, cols)
    assert buffer.shape == (rows.stop - rows.start, cols.stop - cols.start), (buffer.shape, rows, cols)


def _pieces(rows: slice, cols: slice) -> Iterator[tuple[tuple[int, int], slice, slice, slice, slice]]:
    """Every tile the in-bounds region touches: its key, the part of the tile, the part of the region."""
    for ty in range(rows.start // TILE, (rows.stop - 1) // TILE + 1):
        y0, y1 = max(rows.start, ty * TILE), min(rows.stop, (ty + 1) * TILE)
        for tx in range(cols.start // TILE, (cols.stop - 1) // TILE + 1):
            x0, x1 = max(cols.start, tx * TILE), min(cols.stop, (tx + 1) * TILE)
            yield (
                (ty, tx),
                slice(y0 - ty * TILE, y1 - ty * TILE), slice(x0 - tx * TILE, x1 - tx * TILE),
                slice(y0 - rows.start, y1 - rows.start), slice(x0 - cols.start, x1 - cols.start),
            )


class TileDictStore(GridStore):
    """Implements only the four region primitives; every other operation is the contract's default."""

    backend = BACKEND_NAME
    layout = "tiles"

    def __init__(
        self,
        *,
        namespace: str | None = None,
        simulation_id: str | None = None,
        default_dtype: object = "float32",
        default_mode: str = "w+",
    ) -> None:
        super().__init__(default_dtype=default_dtype, default_mode=default_mode)
        self.namespace = namespace
        self.simulation_id = simulation_id

    def allocate_grid(self, name: str, shape: tuple[int, int], dtype: np.dtype, mode: str, fill: float) -> GridEntry:
        # Nothing is allocated up front: a tile exists once something is written into it.
        return GridEntry(self.describe_grid(name, shape, dtype, mode, None), None, TileGrid(dtype.type(fill)))

    def read_region(self, entry: GridEntry, rows: slice, cols: slice, out: np.ndarray) -> None:
        _check_region_buffer(entry, rows, cols, out)
        grid: TileGrid = entry.state
        for key, tile_rows, tile_cols, out_rows, out_cols in _pieces(rows, cols):
            tile = grid.tiles.get(key)
            source = grid.fill if tile is None else tile[tile_rows, tile_cols]
            np.copyto(out[out_rows, out_cols], source, casting="unsafe")

    def write_region(self, entry: GridEntry, rows: slice, cols: slice, data: np.ndarray) -> None:
        _check_region_buffer(entry, rows, cols, data)
        grid: TileGrid = entry.state
        height, width = entry.shape
        for key, tile_rows, tile_cols, data_rows, data_cols in _pieces(rows, cols):
            tile = grid.tiles.get(key)
            if tile is None:
                ty, tx = key
                # Edge tiles are cut to the grid, so no cell outside it can ever be held.
                tile_shape = (min(TILE, height - ty * TILE), min(TILE, width - tx * TILE))
                tile = grid.tiles[key] = np.full(tile_shape, grid.fill, dtype=entry.dtype)
            np.copyto(tile[tile_rows, tile_cols], data[data_rows, data_cols], casting="unsafe")

    def release_grid(self, entry: GridEntry, delete_file: bool) -> None:
        entry.state.tiles.clear()
        entry.state = None


def tile_dict_factory(config: object, *, namespace: str, simulation_id: str | None) -> TileDictStore:
    """The ``register_backend`` factory: the memmap config block supplies only the dtype."""
    return TileDictStore(namespace=namespace, simulation_id=simulation_id, default_dtype=getattr(config, "dtype"))
