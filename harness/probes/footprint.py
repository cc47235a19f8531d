"""The file pages a piece of work needs: byte offsets of cells, windows, regions and tiles in a row- or tile-major grid file."""

from __future__ import annotations

import mmap
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from harness.errors import HarnessUsageError

# Computed here from the coordinates alone, never with the engine's extent functions: the
# harness must be able to tell the engine it read more than the work needed.
PAGE = mmap.PAGESIZE
LAYOUTS = ("rows", "tiles")
_WINDOW_CHUNK = 2048  # windows per vectorised step: bounds the (chunk, S, S) offset temporaries


def _positive_int(label: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise HarnessUsageError(f"{label} must be a positive integer, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class FileLayout:
    """How a ``shape`` grid of ``itemsize``-byte cells lies in its file: rows, or ``tile``-square tiles."""

    shape: tuple[int, int]
    itemsize: int = 4
    layout: str = "rows"
    tile: int = 0  # the tile side for "tiles"; ignored for "rows"
    page: int = PAGE

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise HarnessUsageError(f"unknown layout {self.layout!r}; use one of {LAYOUTS}")
        if not isinstance(self.shape, tuple) or len(self.shape) != 2:
            raise HarnessUsageError(f"shape must be a (height, width) tuple, got {self.shape!r}")
        for label, value in (("height", self.shape[0]), ("width", self.shape[1]), ("itemsize", self.itemsize),
                             ("page", self.page)):
            _positive_int(label, value)
        if self.page % self.itemsize:
            raise HarnessUsageError(f"itemsize {self.itemsize} does not divide the page size {self.page}")
        if self.layout == "tiles":
            side = _positive_int("tile", self.tile)
            if side & (side - 1):
                raise HarnessUsageError(f"tile must be a power of two, got {side}")

    @classmethod
    def named(cls, shape: tuple[int, int], name: str, itemsize: int = 4) -> FileLayout:
        """``"rows"`` or ``"tiles<side>"`` (e.g. ``"tiles32"``)."""
        if name == "rows":
            return cls(shape, itemsize)
        side = name.removeprefix("tiles")
        if not name.startswith("tiles") or not side.isdigit():
            raise HarnessUsageError(f"layout name must be 'rows' or 'tiles<side>' (e.g. tiles32), got {name!r}")
        return cls(shape, itemsize, "tiles", int(side))

    @property
    def name(self) -> str:
        return "rows" if self.layout == "rows" else f"tiles{self.tile}"

    @property
    def tiles_across(self) -> int:
        return -(-self.shape[1] // self.tile)

    @property
    def file_bytes(self) -> int:
        """Bytes of the file: the grid, padded to whole tiles in the tiled layout."""
        if self.layout == "rows":
            return self.shape[0] * self.shape[1] * self.itemsize
        return -(-self.shape[0] // self.tile) * self.tiles_across * self.tile * self.tile * self.itemsize

    @property
    def file_pages(self) -> int:
        return -(-self.file_bytes // self.page)

    # -- offsets ----------------------------------------------------------------------------
    def cell_offsets(self, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """Byte offsets of in-grid cells ``(ys[i], xs[i])`` (the caller drops outside cells)."""
        y = np.asarray(ys, dtype=np.int64)
        x = np.asarray(xs, dtype=np.int64)
        if self.layout == "rows":
            cells = y * self.shape[1] + x
        else:
            t = self.tile
            cells = ((y // t) * self.tiles_across + x // t) * (t * t) + (y % t) * t + x % t
        return cells * self.itemsize

    def _inside(self, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        return (ys >= 0) & (ys < self.shape[0]) & (xs >= 0) & (xs < self.shape[1])

    # -- pages ----------------------------------------------------------------------------
    def pages_of_cells(self, ys: object, xs: object) -> np.ndarray:
        """Sorted distinct pages under the cells; cells outside the grid touch nothing."""
        y = np.asarray(ys, dtype=np.int64).reshape(-1)
        x = np.asarray(xs, dtype=np.int64).reshape(-1)
        keep = self._inside(y, x)
        return np.unique(self.cell_offsets(y[keep], x[keep]) // self.page)

    def pages_of_windows(self, ys: object, xs: object, radius: int) -> np.ndarray:
        """Sorted distinct pages the ``(2r+1)``-square windows centred on ``(ys, xs)`` cover inside the grid."""
        y = np.asarray(ys, dtype=np.int64).reshape(-1)
        x = np.asarray(xs, dtype=np.int64).reshape(-1)
        if y.shape != x.shape:
            raise HarnessUsageError(f"ys and xs differ in length: {y.size} and {x.size}")
        if isinstance(radius, bool) or not isinstance(radius, (int, np.integer)) or radius < 0:
            raise HarnessUsageError(f"radius must be a non-negative integer, got {radius!r}")
        steps = np.arange(-int(radius), int(radius) + 1, dtype=np.int64)
        parts = []
        for start in range(0, y.size, _WINDOW_CHUNK):
            rows = np.broadcast_to((y[start : start + _WINDOW_CHUNK, None] + steps)[:, :, None],
                                   (min(_WINDOW_CHUNK, y.size - start), steps.size, steps.size))
            cols = np.broadcast_to((x[start : start + _WINDOW_CHUNK, None] + steps)[:, None, :], rows.shape)
            keep = self._inside(rows, cols)
            parts.append(np.unique(self.cell_offsets(rows[keep], cols[keep]) // self.page))
        return union(parts)

    def pages_of_region(self, rows: slice, cols: slice) -> np.ndarray:
        """Pages of the cells ``[rows, cols]`` (clipped to the grid)."""
        y0, y1 = max(rows.start or 0, 0), min(self.shape[0] if rows.stop is None else rows.stop, self.shape[0])
        x0, x1 = max(cols.start or 0, 0), min(self.shape[1] if cols.stop is None else cols.stop, self.shape[1])
        if y1 <= y0 or x1 <= x0:
            return np.empty(0, dtype=np.int64)
        parts = []
        band = max(1, (1 << 22) // max(1, x1 - x0))  # ~4 M cells per step, whatever the region
        for top in range(y0, y1, band):
            ys, xs = np.meshgrid(np.arange(top, min(top + band, y1)), np.arange(x0, x1), indexing="ij")
            parts.append(np.unique(self.cell_offsets(ys.ravel(), xs.ravel()) // self.page))
        return union(parts)

    def pages_of_tiles(self, mask: np.ndarray, tile_size: int) -> np.ndarray:
        """Pages of the ``tile_size``-square tiles ``mask`` marks (the active tiles a decay touches)."""
        marked = np.asarray(mask, dtype=bool)
        side = _positive_int("tile_size", tile_size)
        parts = [self.pages_of_region(slice(ty * side, (ty + 1) * side), slice(tx * side, (tx + 1) * side))
                 for ty, tx in zip(*np.nonzero(marked))]
        return union(parts)

    def bytes_of(self, pages: np.ndarray) -> int:
        """Bytes of ``pages`` (distinct), the last page cut at the end of the file."""
        if pages.size == 0:
            return 0
        total = int(pages.size) * self.page
        if int(pages[-1]) == self.file_pages - 1:
            total -= self.file_pages * self.page - self.file_bytes
        return total

    def tiles_of_windows(self, ys: object, xs: object, radius: int) -> int:
        """Distinct storage tiles the windows cover (tiles layout only; the coarser minimum)."""
        if self.layout != "tiles":
            raise HarnessUsageError("tiles_of_windows needs the tiles layout")
        y = np.asarray(ys, dtype=np.int64).reshape(-1)
        x = np.asarray(xs, dtype=np.int64).reshape(-1)
        r, t, h, w = int(radius), self.tile, self.shape[0], self.shape[1]
        meets = (y + r >= 0) & (y - r < h) & (x + r >= 0) & (x - r < w)
        y, x = y[meets], x[meets]
        ty0, ty1 = np.clip(y - r, 0, h - 1) // t, np.clip(y + r, 0, h - 1) // t
        tx0, tx1 = np.clip(x - r, 0, w - 1) // t, np.clip(x + r, 0, w - 1) // t
        seen = set()
        span = int(max((ty1 - ty0).max(initial=0), (tx1 - tx0).max(initial=0))) + 1
        for dy in range(span):
            for dx in range(span):
                ok = (ty0 + dy <= ty1) & (tx0 + dx <= tx1)
                seen.update(((ty0[ok] + dy) * self.tiles_across + tx0[ok] + dx).tolist())
        return len(seen)


def union(parts: Iterable[np.ndarray]) -> np.ndarray:
    """Sorted distinct values of every array in ``parts``."""
    chosen = [np.asarray(p, dtype=np.int64) for p in parts]
    return np.unique(np.concatenate(chosen)) if chosen else np.empty(0, dtype=np.int64)
