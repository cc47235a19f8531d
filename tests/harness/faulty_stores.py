"""Deliberately broken grid stores, injected into real environments to show each criterion can FAIL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from farm_grids.stores import MemmapManager
from farm_grids.stores.base import _Entry


class LoadsWholeGrid(MemmapManager):
    """Creates the file but serves a dense RAM copy of the whole grid (C6 must FAIL)."""

    def _allocate(self, name: str, shape: tuple[int, int], dtype: np.dtype, mode: str, fill: float
                  ) -> tuple[np.ndarray, Path | None]:
        backing, path = super()._allocate(name, shape, dtype, mode, fill)
        copy = np.array(backing)  # reads every page of the file into anonymous memory
        copy += 0  # and writes it, so each page is private and resident
        mm = getattr(backing, "_mmap", None)
        del backing
        if mm is not None:
            mm.close()
        return copy, path

    def _flush_entry(self, entry: _Entry) -> None:
        return None  # the RAM copy never reaches the file


class WrongWindows(MemmapManager):
    """Every window it returns is off by one (C2 must FAIL)."""

    def get_window(self, name: str, y0: int, y1: int, x0: int, x1: int, **kwargs: Any) -> np.ndarray:
        return super().get_window(name, y0, y1, x0, x1, **kwargs) + np.float32(1)

    def get_windows(self, name: str, ys: object, xs: object, radius: int, **kwargs: Any) -> np.ndarray:
        out = super().get_windows(name, ys, xs, radius, **kwargs)
        out += np.float32(1)
        return out

    def get_planned_windows(self, name: str, plan: Any, **kwargs: Any) -> np.ndarray:
        out = super().get_planned_windows(name, plan, **kwargs)
        out += np.float32(1)
        return out


class SlowStore(MemmapManager):
    """Reads every window four times (C4 must FAIL)."""

    REPEATS = 4

    def get_window(self, name: str, y0: int, y1: int, x0: int, x1: int, **kwargs: Any) -> np.ndarray:
        for _ in range(self.REPEATS - 1):
            super().get_window(name, y0, y1, x0, x1, **kwargs)
        return super().get_window(name, y0, y1, x0, x1, **kwargs)

    def get_windows(self, name: str, ys: object, xs: object, radius: int, **kwargs: Any) -> np.ndarray:
        for _ in range(self.REPEATS - 1):
            super().get_windows(name, ys, xs, radius, **kwargs)
        return super().get_windows(name, ys, xs, radius, **kwargs)


class UnlinkedFiles(MemmapManager):
    """Maps each grid, then deletes its file: no file on disk (C1 must FAIL)."""

    def _allocate(self, name: str, shape: tuple[int, int], dtype: np.dtype, mode: str, fill: float
                  ) -> tuple[np.ndarray, Path | None]:
        backing, path = super()._allocate(name, shape, dtype, mode, fill)
        if path is not None:
            path.unlink()
        return backing, path


class CorruptsOnFlush(MemmapManager):
    """Adds one to every value whenever it flushes: wrong values persist (C3 must FAIL)."""

    def _flush_entry(self, entry: _Entry) -> None:
        entry.view += entry.view.dtype.type(1)
        super()._flush_entry(entry)


class InterruptingStore(MemmapManager):
    """Raises KeyboardInterrupt on the first window read, like Ctrl-C in the middle of a run."""

    def get_window(self, name: str, y0: int, y1: int, x0: int, x1: int, **kwargs: Any) -> np.ndarray:
        raise KeyboardInterrupt

    def get_windows(self, name: str, ys: object, xs: object, radius: int, **kwargs: Any) -> np.ndarray:
        raise KeyboardInterrupt
