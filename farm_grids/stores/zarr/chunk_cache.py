"""ChunkMirror: one zarr array's chunks cached in a tile-major RAM mirror, fetched on demand, written back on flush.

The mirror is an anonymous mapping the size of the (padded) grid: a chunk never fetched
costs no memory, and each chunk is one contiguous block, so evicting it returns its pages
(``MADV_DONTNEED``). Chunk fetches and write-backs run concurrently, because on object
storage each is one HTTP request whose latency dominates: the chunks one operation needs are
read as one batch (chunk_io).
"""

from __future__ import annotations

import errno
import mmap
import sys
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable

import numpy as np

from farm_grids.errors import RequestTooLargeError
from farm_grids.stores.tiled import TileGrid, tile_buffer_cells
from farm_grids.stores.zarr.chunk_io import read_chunks

__all__ = ["ChunkBudget", "ChunkMirror"]

_FETCH_THREADS = 16
# The mirror reserves address space for the whole grid but holds only the cached chunks:
# without MAP_NORESERVE the kernel's overcommit check would refuse a world larger than RAM.
_MAP_NORESERVE = getattr(mmap, "MAP_NORESERVE", 0x4000 if sys.platform.startswith("linux") else 0)


class ChunkBudget:
    """The byte budget every mirror of one store shares: least recently used chunks leave first."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self.used_bytes = 0
        self._order: OrderedDict[tuple[int, int, int], ChunkMirror] = OrderedDict()

    def touch(self, mirror: ChunkMirror, keys: Iterable[tuple[int, int]]) -> None:
        for ty, tx in keys:
            self._order.move_to_end((id(mirror), ty, tx), last=True)

    def add(self, mirror: ChunkMirror, keys: list[tuple[int, int]], pinned: set[tuple[int, int]]) -> None:
        """Account for newly loaded chunks; evict others (written back first) until within budget."""
        for ty, tx in keys:
            self._order[(id(mirror), ty, tx)] = mirror
        self.used_bytes += len(keys) * mirror.chunk_bytes
        victims: list[tuple[ChunkMirror, int, int]] = []
        excess = self.used_bytes - self.limit_bytes
        for (_, ty, tx), holder in self._order.items():
            if excess <= 0:
                break
            if not (holder is mirror and (ty, tx) in pinned):
                victims.append((holder, ty, tx))
                excess -= holder.chunk_bytes
        for holder, ty, tx in victims:
            holder.evict(ty, tx)

    def forget(self, mirror: ChunkMirror, ty: int, tx: int) -> None:
        if self._order.pop((id(mirror), ty, tx), None) is not None:
            self.used_bytes -= mirror.chunk_bytes


class ChunkMirror:
    """The cached chunks of one zarr array (``array.chunks == (T, T)``) as a TileGrid."""

    def __init__(self, array: Any, budget: ChunkBudget, *, writable: bool) -> None:
        self.array = array
        self.budget = budget
        self.writable = writable
        self.shape = (int(array.shape[0]), int(array.shape[1]))
        self.tile = int(array.chunks[0])
        self.dtype = np.dtype(array.dtype)
        cells = tile_buffer_cells(self.shape, self.tile)
        try:
            region = mmap.mmap(-1, cells * self.dtype.itemsize, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | _MAP_NORESERVE)
        except OSError as exc:  # the store checked the size; another mapping may have taken the room since
            if exc.errno != errno.ENOMEM:
                raise
            raise RequestTooLargeError(f"cannot map a {self.shape} {self.dtype.name} chunk mirror: the process's "
                                       "address space is exhausted (ulimit -v)") from exc
        advice = getattr(mmap, "MADV_NOHUGEPAGE", None)
        if advice is not None:
            region.madvise(advice)
        self._region = region
        self.grid = TileGrid(np.frombuffer(region, dtype=self.dtype, count=cells), self.shape, self.tile)
        self.chunk_bytes = self.tile * self.tile * self.dtype.itemsize
        self.loaded = np.zeros((self.grid.ny, self.grid.nx), dtype=bool)
        self.dirty = np.zeros_like(self.loaded)
        self.complete = False  # every chunk cached: reads need no chunk bookkeeping (kept with ``loaded``)
        self.fetched = 0  # chunks read from the zarr store so far (for the shared-world figures)

    def _chunk_box(self, ty: int, tx: int) -> tuple[int, int]:
        t = self.tile
        return min(t, self.shape[0] - ty * t), min(t, self.shape[1] - tx * t)

    def ensure(self, wanted: np.ndarray, *, overwrite: np.ndarray | None = None) -> None:
        """Load every chunk ``wanted`` marks that is not cached; ``overwrite`` chunks need no fetch."""
        missing = wanted & ~self.loaded
        keys = list(zip(*(axis.tolist() for axis in np.nonzero(wanted))))
        if int(np.count_nonzero(wanted)) * self.chunk_bytes > self.budget.limit_bytes:
            raise RequestTooLargeError(
                f"one operation needs {int(np.count_nonzero(wanted))} chunks of {self.chunk_bytes} bytes, more than "
                f"the chunk cache's {self.budget.limit_bytes} bytes (raise cache_bytes)"
            )
        self.budget.touch(self, [k for k in keys if self.loaded[k]])
        if not missing.any():
            return
        fetch = missing if overwrite is None else missing & ~overwrite
        targets = list(zip(*(axis.tolist() for axis in np.nonzero(fetch))))
        if targets:
            read_chunks(self.array, targets, self.grid.tiles)  # all together, concurrently
            self.fetched += len(targets)
        new = list(zip(*(axis.tolist() for axis in np.nonzero(missing))))
        self.loaded[missing] = True
        self.complete = bool(self.loaded.all())
        self.budget.add(self, new, set(keys))

    def flush(self) -> None:
        """Write every dirty chunk back to the zarr store."""
        targets = list(zip(*(axis.tolist() for axis in np.nonzero(self.dirty))))
        if targets:
            self._run(self._store, targets)
            self.dirty[...] = False

    def _store(self, key: tuple[int, int]) -> None:
        ty, tx = key
        h, w = self._chunk_box(ty, tx)
        self.array.set_block_selection((ty, tx), self.grid.tiles[ty, tx, :h, :w])

    def evict(self, ty: int, tx: int) -> None:
        if self.dirty[ty, tx]:
            self._store((ty, tx))
            self.dirty[ty, tx] = False
        self.grid.tiles[ty, tx] = 0
        advice = getattr(mmap, "MADV_DONTNEED", None)
        start = (ty * self.grid.nx + tx) * self.chunk_bytes
        if advice is not None and start % mmap.PAGESIZE == 0 and self.chunk_bytes % mmap.PAGESIZE == 0:
            self._region.madvise(advice, start, self.chunk_bytes)  # the pages go back to the system
        self.loaded[ty, tx] = False
        self.complete = False
        self.budget.forget(self, ty, tx)

    def release(self) -> None:
        for ty, tx in zip(*(axis.tolist() for axis in np.nonzero(self.loaded))):
            self.budget.forget(self, ty, tx)
        self.loaded[...] = False
        self.complete = False

    @staticmethod
    def _run(job: Callable[[tuple[int, int]], None], keys: list[tuple[int, int]]) -> None:
        if len(keys) == 1:
            job(keys[0])
            return
        with ThreadPoolExecutor(max_workers=min(_FETCH_THREADS, len(keys))) as pool:
            for future in [pool.submit(job, key) for key in keys]:
                future.result()  # re-raises the first failure
