"""RamStore and SparseRamStore: the grid-store interface over in-memory numpy arrays."""

from __future__ import annotations

import mmap

import numpy as np

from farm_grids.stores.dense import DenseArrayStore
from farm_grids.stores.entry import GridEntry
from farm_grids.stores.tiled import DEFAULT_TILE, tile_buffer_cells

__all__ = ["RamStore", "SparseRamStore"]


class RamStore(DenseArrayStore):
    """Grids held in process memory; the baseline the memmap backend is measured against."""

    backend = "ram"

    def __init__(
        self,
        directory: object = None,
        *,
        simulation_id: str | None = None,
        namespace: str | None = None,
        default_dtype: object = "float32",
        default_mode: str = "w+",
        layout: str = "rows",
        tile_size: int = DEFAULT_TILE,
    ) -> None:
        # directory/simulation_id/namespace are accepted so either backend can be built
        # from the same arguments; RAM has no files to name.
        super().__init__(default_dtype=default_dtype, default_mode=default_mode, layout=layout, tile_size=tile_size)
        self.simulation_id = simulation_id
        self.namespace = namespace

    def allocate_grid(self, name: str, shape: tuple[int, int], dtype: np.dtype, mode: str, fill: float) -> GridEntry:
        cells = shape[0] * shape[1] if self.layout == "rows" else tile_buffer_cells(shape, self.tile_size)
        return self._new_buffer(name, shape, dtype, mode, fill, np.zeros(cells, dtype=dtype))

    def release_grid(self, entry: GridEntry, delete_file: bool) -> None:
        return None


class SparseRamStore(RamStore):
    """RAM grids for scattered writes: each costs one 4 KiB page, never a 2 MiB huge page.

    numpy asks for transparent huge pages on large arrays, so a grid written at a few
    agent cells would still become resident 2 MiB at a time and grow with the world.
    Here each grid is its own anonymous mapping with huge pages switched off.
    """

    backend = "sparse-ram"

    def allocate_grid(self, name: str, shape: tuple[int, int], dtype: np.dtype, mode: str, fill: float) -> GridEntry:
        count = shape[0] * shape[1] if self.layout == "rows" else tile_buffer_cells(shape, self.tile_size)
        region = mmap.mmap(-1, max(count * dtype.itemsize, 1), flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        advice = getattr(mmap, "MADV_NOHUGEPAGE", None)  # Linux only; elsewhere pages are small
        if advice is not None:
            region.madvise(advice)
        # An anonymous mapping starts zeroed: only a non-zero fill writes.
        return self._new_buffer(name, shape, dtype, mode, fill, np.frombuffer(region, dtype=dtype, count=count))
