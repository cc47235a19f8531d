"""Value objects of the store contract: a grid's description, a held grid, and the store's own state."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["GridEntry", "GridInfo", "StoreInfo"]


@dataclass(frozen=True)
class GridInfo:
    """What a store knows about one grid."""

    name: str
    shape: tuple[int, int]
    dtype: str
    mode: str
    backend: str
    nbytes: int
    path: Path | None = None

    @property
    def writable(self) -> bool:
        return self.mode != "r"

    @property
    def file_backed(self) -> bool:
        return self.path is not None


@dataclass
class GridEntry:
    """One grid a store holds, as its backend sees it.

    ``array`` is the grid's dense ndarray when the backend keeps one (RAM, memmap): the
    array backends' fast paths work on it directly. A chunked backend leaves it None and
    keeps its tiles or chunks in ``state``, which is the backend's alone.
    """

    info: GridInfo
    array: np.ndarray | None = None
    state: Any = None

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def shape(self) -> tuple[int, int]:
        return self.info.shape

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.info.dtype)


@dataclass(frozen=True)
class StoreInfo:
    """What a store knows about itself.

    ``clean`` is False when the store was reopened after a writer that never closed it
    cleanly (a crash or a kill): writes that were not flushed before it may be torn.
    """

    backend: str
    mode: str
    clean: bool = True
    generation: int = 0
    manifest_path: Path | None = None
    writer_active: bool = False
