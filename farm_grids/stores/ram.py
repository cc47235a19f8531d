"""RamStore: the grid-store interface over plain in-memory numpy arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from farm_grids.stores.base import GridStore, _Entry

__all__ = ["RamStore"]


class RamStore(GridStore):
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
    ) -> None:
        # directory/simulation_id/namespace are accepted so either backend can be built
        # from the same arguments; RAM has no files to name.
        super().__init__(default_dtype=default_dtype, default_mode=default_mode)
        self.simulation_id = simulation_id
        self.namespace = namespace

    def _allocate(
        self, name: str, shape: tuple[int, int], dtype: np.dtype, mode: str, fill: float
    ) -> tuple[np.ndarray, Path | None]:
        if fill == 0.0:
            return np.zeros(shape, dtype=dtype), None
        return np.full(shape, fill, dtype=dtype), None

    def _release(self, entry: _Entry, delete_file: bool) -> None:
        return None
