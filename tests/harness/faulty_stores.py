"""Deliberately broken grid stores, injected into real environments by backend name to show each criterion can FAIL."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from farm_grids.config import MemmapConfig
from farm_grids.stores import GridEntry, GridStore, MemmapStore, register_backend


def backend(store_class: Callable[..., GridStore]) -> str:
    """Register ``store_class`` (a store class, or any callable of its arguments) as a file
    backend named after it, and return the name."""
    name = f"faulty-{store_class.__name__}"

    def factory(config: MemmapConfig, *, namespace: str, simulation_id: str | None,
                storage_options: object = None) -> GridStore:
        if isinstance(store_class, type) and not issubclass(store_class, MemmapStore):
            return store_class(namespace=namespace, simulation_id=simulation_id, default_dtype=config.dtype)
        return store_class(config.resolved_directory(), namespace=namespace, simulation_id=simulation_id,
                           default_dtype=config.dtype)

    register_backend(name, factory, replace=True)
    return name


class LoadsWholeGrid(MemmapStore):
    """Creates the file but serves a dense RAM copy of the whole grid (C6 must FAIL)."""

    def allocate_grid(self, name: str, shape: tuple[int, int], dtype: np.dtype, mode: str, fill: float) -> GridEntry:
        entry = super().allocate_grid(name, shape, dtype, mode, fill)
        copy = np.array(entry.array)  # reads every page of the file into anonymous memory
        copy += 0  # and writes it, so each page is private and resident
        entry.array = copy
        return entry

    def flush_grid(self, entry: GridEntry) -> None:
        return None  # the RAM copy never reaches the file


class WrongWindows(MemmapStore):
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


class SlowStore(MemmapStore):
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


class UnlinkedFiles(MemmapStore):
    """Maps each grid, then deletes its file: no file on disk (C1 must FAIL)."""

    def allocate_grid(self, name: str, shape: tuple[int, int], dtype: np.dtype, mode: str, fill: float) -> GridEntry:
        entry = super().allocate_grid(name, shape, dtype, mode, fill)
        if entry.info.path is not None:
            entry.info.path.unlink()
        return entry


class CorruptsOnFlush(MemmapStore):
    """Adds one to every value whenever it flushes: wrong values persist (C3 must FAIL)."""

    def flush_grid(self, entry: GridEntry) -> None:
        assert entry.array is not None
        entry.array += entry.array.dtype.type(1)
        super().flush_grid(entry)


class InterruptingStore(MemmapStore):
    """Raises KeyboardInterrupt on the first window read, like Ctrl-C in the middle of a run."""

    def get_window(self, name: str, y0: int, y1: int, x0: int, x1: int, **kwargs: Any) -> np.ndarray:
        raise KeyboardInterrupt

    def get_windows(self, name: str, ys: object, xs: object, radius: int, **kwargs: Any) -> np.ndarray:
        raise KeyboardInterrupt
