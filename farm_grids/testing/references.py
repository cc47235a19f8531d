"""Reference values for the store suite: grids of every dtype, windows by their definition, fresh names."""

from __future__ import annotations

import itertools

import numpy as np

from farm_grids.stores import SUPPORTED_DTYPES

__all__ = ["ALL_DTYPES", "fresh_name", "naive_window", "padded_windows_reference", "random_grid"]

ALL_DTYPES: tuple[str, ...] = tuple(sorted(SUPPORTED_DTYPES))


def random_grid(shape: tuple[int, int], dtype: str, seed: int) -> np.ndarray:
    """Values that fit ``dtype`` exactly and survive a cast to float32 unchanged."""
    rng = np.random.default_rng(seed)
    resolved = np.dtype(dtype)
    if resolved.kind == "f":
        scale = 100.0 if resolved.itemsize == 2 else 1e4
        return (rng.standard_normal(shape) * scale).astype(resolved)
    info = np.iinfo(resolved)
    low, high = max(int(info.min), -(2**20)), min(int(info.max), 2**20)
    return rng.integers(low, high, size=shape, endpoint=True).astype(resolved)


def naive_window(
    grid: np.ndarray,
    y0: int,
    y1: int,
    x0: int,
    x1: int,
    out_dtype: object = np.float32,
) -> np.ndarray:
    """The definition of a window, cell by cell: inside copies the grid, outside is zero."""
    height, width = grid.shape
    out = np.zeros((max(0, y1 - y0), max(0, x1 - x0)), dtype=out_dtype)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            y, x = y0 + i, x0 + j
            if 0 <= y < height and 0 <= x < width:
                out[i, j] = grid[y, x]
    return out


def padded_windows_reference(
    grid: np.ndarray, ys: list[int], xs: list[int], radius: int
) -> np.ndarray:
    """Square windows cut from a zero-padded copy of the grid (independent of the engine)."""
    side = 2 * radius + 1
    margin = radius + 1 + max([0, *(abs(v) for v in ys), *(abs(v) for v in xs)])
    padded = np.pad(grid.astype(np.float32), margin)
    windows = np.zeros((len(ys), side, side), dtype=np.float32)
    for k, (y, x) in enumerate(zip(ys, xs)):
        top, left = y - radius + margin, x - radius + margin
        windows[k] = padded[top : top + side, left : left + side]
    return windows


_names = itertools.count()


def fresh_name() -> str:
    """A grid name no other example of the run has used (hypothesis reuses one store per test)."""
    return f"p{next(_names)}"
