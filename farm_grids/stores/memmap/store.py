"""MemmapStore: the grid-store interface over sparse memory-mapped files, one writer at a time."""

from __future__ import annotations

import os
import secrets
import warnings
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from farm_grids.errors import (
    GridExistsError,
    InvalidGridSpecError,
    UncleanShutdownWarning,
)
from farm_grids.stores.dense import DenseArrayStore
from farm_grids.stores.entry import GridEntry, GridInfo, StoreInfo
from farm_grids.stores.extents import plan_tile_extents, tile_extents, tile_segment_end_cells
from farm_grids.stores.memmap.known_pages import plan_corners
from farm_grids.stores.memmap.fork_guard import ForkGuarded, track
from farm_grids.stores.memmap.files import (
    grid_file_name,
    lock_file_name,
    manifest_file_name,
    prepare_directory,
    spare_file_name,
    temp_prefix,
    warn_if_overcommitted,
)
from farm_grids.stores.memmap.locks import WRITER_BYTE, StoreLock, is_held
from farm_grids.stores.memmap.manifest import Manifest, ManifestEntry, manifest_entry, remove_manifest, write_manifest
from farm_grids.stores.memmap.mapped_file import ACCESS_MODES, BLOCK_BYTES, MappedFile, resolve_access
from farm_grids.stores.memmap.opening import OpenedFiles, open_files
from farm_grids.stores.tiled import DEFAULT_TILE, TileGrid, tile_buffer_cells
from farm_grids.stores.validation import validate_label
from farm_grids.windows import WindowPlan

__all__ = ["ACCESS_MODES", "MemmapStore"]

# Windows from which a gather checks the whole mapping's residency before planning its pages.
_WHOLE_FILE_CHECK = 256


class MemmapStore(ForkGuarded, DenseArrayStore):
    """Grids in memory-mapped files, one file per grid, with a manifest to reopen them.

    Files are created sparse, so a zero-filled grid costs neither RAM nor disk blocks
    until its pages are written; dense writes reserve their blocks first (a full disk is a
    DiskFullError, never SIGBUS), and ``preallocate=True`` reserves every file whole at
    creation. One writer holds the store's lock; readers (``open(..., mode="r")``) share it.

    ``layout="tiles"`` stores each file tile-major (``tile_size``-square tiles); ``access``
    sets the kernel's readahead for faults ("random", "normal", or "auto": random while
    ``prefetch`` is on), and ``prefetch`` asks, before each batched gather, for exactly the
    pages the windows cover that are not resident yet.

    A forked child may not use its parent's store (ForkedStoreError; reopen it there with
    ``open(manifest, mode="r")``), and its close leaves the parent's lock and files alone.
    """

    backend = "memmap"
    file_backed = True
    supports_reopen = True
    in_memory = False
    _reserves = True

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        *,
        simulation_id: str | None = None,
        namespace: str | None = None,
        default_dtype: object = "float32",
        default_mode: str = "w+",
        preallocate: bool = False,
        layout: str = "rows",
        tile_size: int = DEFAULT_TILE,
        access: str = "auto",
        prefetch: bool = True,
    ) -> None:
        super().__init__(default_dtype=default_dtype, default_mode=default_mode, layout=layout, tile_size=tile_size)
        self.access, self.prefetch = resolve_access(access, prefetch)
        validate_label(simulation_id, "simulation_id")  # labels become file names: checked first
        validate_label(namespace, "namespace")
        if not isinstance(preallocate, bool):
            raise InvalidGridSpecError(f"preallocate must be a bool, got {preallocate!r}")
        self.directory = prepare_directory(directory, writable=self.default_mode != "r")
        self.simulation_id = simulation_id
        self.namespace = namespace
        self.preallocate = preallocate
        self.pid = os.getpid()
        # A per-manager token keeps two managers of one process (same simulation_id) apart.
        self.token = secrets.token_hex(4)
        self._manifest_path: Path | None = None
        # Grids closed without deleting their file stay in the manifest so a later run
        # can reopen them.
        self._kept: dict[str, ManifestEntry] = {}
        self._generation = 0
        self._was_clean = True
        self._lock: StoreLock | None = None  # the manifest's lock (writer, or reader)
        self._owner_lock: StoreLock | None = None  # this store's own token, when they differ
        self._tiles_reserved: dict[tuple[str, int], np.ndarray] = {}
        track(self)  # a forked child lets go of this store's lock descriptors at once

    # -- names and locks ------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:  # type: ignore[override]
        """Where this store records its grids so another process can reopen them."""
        if self._manifest_path is None:
            self._manifest_path = self.directory / manifest_file_name(
                pid=self.pid, token=self.token, namespace=self.namespace, simulation_id=self.simulation_id
            )
        return self._manifest_path

    @property
    def _spare_path(self) -> Path:
        return self.directory / spare_file_name(self.pid, self.token)

    def _own_lock_path(self) -> Path:
        own = manifest_file_name(pid=self.pid, token=self.token, namespace=self.namespace, simulation_id=self.simulation_id)
        return self.directory / lock_file_name(own)

    def _ensure_writer_locks(self) -> None:
        """Lock before the first file exists, so cleanup_stale never mistakes it for stale."""
        if self._lock is None:
            self._lock = StoreLock.acquire_writer(self.directory / lock_file_name(self.manifest_path.name))
        if self._owner_lock is None and self._own_lock_path() != self._lock.path:
            # Reopened: files made now carry this store's own token, which this lock covers.
            self._owner_lock = StoreLock.acquire_writer(self._own_lock_path())

    def store_info(self) -> StoreInfo:
        writer_active = self.default_mode != "r" and self._lock is not None
        if self.default_mode == "r" and self._manifest_path is not None:
            writer_active = is_held(self.directory / lock_file_name(self._manifest_path.name), WRITER_BYTE)
        return StoreInfo(
            backend=self.backend,
            mode=self.default_mode,
            clean=self._was_clean,
            generation=self._generation,
            manifest_path=self._manifest_path,
            writer_active=writer_active,
        )

    # -- backend primitives -------------------------------------------------------------
    def allocate_grid(self, name: str, shape: tuple[int, int], dtype: np.dtype, mode: str, fill: float) -> GridEntry:
        if name in self._kept:
            raise GridExistsError(
                f"grid {name!r} was closed with its file kept; reopen it with MemmapStore.open "
                "or close it with delete_file=True first"
            )
        tiled = self.layout == "tiles"
        cells = tile_buffer_cells(shape, self.tile_size) if tiled else shape[0] * shape[1]
        nbytes = cells * dtype.itemsize
        if not self.preallocate:  # preallocation itself refuses what does not fit
            warn_if_overcommitted(self.directory, name, nbytes)
        self._ensure_writer_locks()
        path = self.directory / grid_file_name(
            name, shape, dtype.name, pid=self.pid, token=self.token,
            namespace=self.namespace, simulation_id=self.simulation_id, tile=self.tile_size if tiled else 0,
        )
        try:
            mapped = MappedFile.create(path, nbytes, preallocate=self.preallocate)
        except FileExistsError as exc:
            raise InvalidGridSpecError(f"grid file {str(path)!r} already exists (two names sanitise alike?)") from exc
        try:
            mapped.advise_access(self.access)
            if fill != 0.0:
                mapped.reserve_all()
                mapped.advise_huge_pages()
            return self._new_buffer(name, shape, dtype, mode, fill, mapped.buffer(dtype, cells), path, mapped)
        except BaseException:
            mapped.release()
            path.unlink(missing_ok=True)
            raise

    def create(self, name: str, shape: tuple[int, int], *, dtype: object = None, mode: str | None = None,
               fill: float = 0.0) -> np.ndarray | None:
        """``GridStore.create``; a refused first grid (a full disk) also drops the lock it took."""
        self._check_open()  # closed, or a forked child: refused before anything below is judged
        first = self._lock is None
        try:
            return super().create(name, shape, dtype=dtype, mode=mode, fill=fill)
        except BaseException:
            if first and not self._entries and not self._kept:
                self._release_locks()  # the directory is left as it was found
            raise

    def release_grid(self, entry: GridEntry, delete_file: bool) -> None:
        name = entry.info.name
        mapped, entry.array, entry.state = entry.state, None, None
        if mapped is not None:
            mapped.release()  # the mapping lives on while a caller still holds an array
        self._tiles_reserved = {key: v for key, v in self._tiles_reserved.items() if key[0] != name}
        if delete_file and entry.info.path is not None:
            entry.info.path.unlink(missing_ok=True)
        elif entry.info.path is not None and entry.info.writable:
            self._kept[name] = self._record(entry.info)

    def _record(self, info: GridInfo) -> ManifestEntry:
        return manifest_entry(info, self.layout, self.tile_size)

    def flush_grid(self, entry: GridEntry) -> None:
        if entry.state is not None:
            entry.state.flush()

    def _reserve(self, entry: GridEntry, starts: np.ndarray | None, ends: np.ndarray | None) -> None:
        mapped = entry.state
        if mapped is None or not mapped.can_reserve:
            return
        if starts is None or ends is None:
            mapped.reserve_all()
        else:
            mapped.reserve(starts, ends)

    def _reserve_cells(self, entry: GridEntry, flat: np.ndarray) -> None:
        mapped = entry.state
        if mapped is None or not mapped.reserve_pending:
            return  # every block reserved (or none can be): a scattered write computes nothing
        offsets = flat if entry.array is not None else self._tile_grid(entry).offsets(flat)
        mapped.reserve_items(offsets, entry.dtype.itemsize)

    def _reserve_tiles(self, entry: GridEntry, mask: np.ndarray, tile_size: int) -> None:
        if entry.state is None or not entry.state.reserve_pending:
            return
        # Decay touches the same active tiles tick after tick: remember which are reserved.
        key = (entry.info.name, tile_size)
        done = self._tiles_reserved.get(key)
        if done is None:
            done = self._tiles_reserved[key] = np.zeros(mask.shape, dtype=bool)
        pending = mask & ~done
        if not pending.any():
            return
        # A few tiles at a time: the extents stay small temporaries that the allocator reuses,
        # instead of large ones that raise glibc's mmap threshold and stay in the heap.
        marked = np.flatnonzero(pending)
        step = max(1, 4096 // tile_size)
        itemsize = entry.dtype.itemsize
        for first in range(0, marked.size, step):
            ty, tx = np.divmod(marked[first : first + step], pending.shape[1])
            if entry.array is not None:
                ends = tile_segment_end_cells(entry.shape, ty, tx, tile_size)
                if tile_size * itemsize <= BLOCK_BYTES:
                    # Row segments within a block or two: their end cells name every block they touch.
                    entry.state.reserve_items(ends, itemsize)
                else:
                    half = ends.size // 2
                    entry.state.reserve(ends[:half] * itemsize, (ends[half:] + 1) * itemsize)
                continue
            for y, x in zip(ty.tolist(), tx.tolist()):  # tile-major: the storage tiles under each decay tile
                rows = slice(y * tile_size, min((y + 1) * tile_size, entry.shape[0]))
                cols = slice(x * tile_size, min((x + 1) * tile_size, entry.shape[1]))
                self._reserve(entry, *self._region_bytes(entry, rows, cols))
        done |= pending

    # -- tile-major files, prefetch -----------------------------------------------------------
    def _tile_grid(self, entry: GridEntry) -> TileGrid:
        return entry.state.tiles  # type: ignore[union-attr, no-any-return]

    def _region_bytes(self, entry: GridEntry, rows: slice, cols: slice) -> tuple[np.ndarray, np.ndarray]:
        if entry.array is not None:
            return super()._region_bytes(entry, rows, cols)
        return tile_extents(self._tile_grid(entry), entry.dtype.itemsize, *self._tile_grid(entry).tiles_of_region(rows, cols))

    def _plan_bytes(self, entry: GridEntry, plan: WindowPlan) -> tuple[np.ndarray, np.ndarray]:
        if entry.array is not None:
            return super()._plan_bytes(entry, plan)
        return plan_tile_extents(self._tile_grid(entry), entry.dtype.itemsize, plan)

    def _before_gather(self, entry: GridEntry, plan: WindowPlan) -> None:
        mapped = entry.state
        if not self.prefetch or mapped is None or not plan.count:
            return
        # A large gather first asks whether the whole file is cached (one mincore per mapping,
        # on files up to 256 MiB): then it need not compute its pages at all. A small one
        # (observe(i)) checks just its own pages.
        if plan.count >= _WHOLE_FILE_CHECK:
            if mapped.fully_resident():
                return
            # A partly cached file (a layer written only where agents went): each window's
            # rectangle of pages (or of whole tiles) against the known ones, four lookups a window.
            # The corners are the plan's: computed for the first layer, reused by the others.
            corners = plan_corners(plan, entry.dtype.itemsize, None if entry.array is not None else self._tile_grid(entry))
            if corners is not None and mapped.known.cover_corners(corners):
                return
        starts, ends = self._plan_bytes(entry, plan)
        mapped.prefetch(starts, ends)  # a warm gather asks for nothing

    def _needs_read_reserve(self, entry: GridEntry) -> bool:
        mapped = entry.state
        return mapped is not None and mapped.reserve_reads and not mapped.fully_reserved

    def _before_dense_write(self, entry: GridEntry) -> None:
        mapped = entry.state
        if mapped is not None:
            mapped.advise_huge_pages()

    # -- the manifest -----------------------------------------------------------------------
    def record_change(
        self, *, added: Iterable[GridInfo] = (), removed: Iterable[str] = (), closing: bool = False
    ) -> None:
        if self.default_mode == "r":
            return  # a reader never rewrites the writer's manifest
        added, removed = list(added), set(removed)
        grids = {name: self._record(entry.info) for name, entry in self._entries.items() if name not in removed}
        grids.update({name: entry for name, entry in self._kept.items() if name not in removed})
        grids.update({info.name: self._record(info) for info in added})
        if not added and not removed and not closing:
            return  # a grid closed with its file kept: the manifest already lists it
        if not grids:
            if self._manifest_path is not None and self._manifest_path.exists():
                remove_manifest(self._manifest_path, spare=self._spare_path)
            return
        self._ensure_writer_locks()
        self._generation += 1
        manifest = Manifest(
            grids=grids, generation=self._generation, clean=closing, namespace=self.namespace,
            simulation_id=self.simulation_id, pid=self.pid, token=self.token,
        )
        write_manifest(self.manifest_path, manifest, spare=self._spare_path, temp_prefix=temp_prefix(self.pid, self.token))

    def _after_close(self) -> None:
        self._release_locks()

    def _release_locks(self) -> None:
        store_gone = self.default_mode != "r" and not self.manifest_path.exists()
        if self.default_mode != "r":
            self._spare_path.unlink(missing_ok=True)  # only a writer rewrites the manifest
        if self._owner_lock is not None:
            self._owner_lock.release(unlink=True)
        if self._lock is not None:
            # The lock file goes with the store, or when no reader still holds it.
            if store_gone:
                self._lock.release(unlink=True)
            else:
                self._lock.release_tidily()
        self._lock = self._owner_lock = None

    # -- reopening ------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        manifest_path: str | os.PathLike[str],
        mode: str = "r+",
        *,
        expect: Mapping[str, tuple[tuple[int, int], object]] | None = None,
        layout: str | None = None,
        access: str = "auto",
        prefetch: bool = True,
    ) -> MemmapStore:
        """Reopen every grid a manifest lists, after checking every entry and file.

        ``mode`` "r+" takes the store's writer lock (StoreLockedError if another writer has
        it); "r" maps read-only under a shared reader lock, so several readers can share
        one writer's files. Every path must resolve inside the manifest's directory, every
        file must match the shape, dtype and size recorded, and no two entries may share a
        file; otherwise nothing is opened. ``expect`` optionally maps grid names to the
        ``(shape, dtype)`` the caller requires; ``layout``, when given, must be the layout the
        files were written in (LayoutMismatchError otherwise). A store that was not closed
        cleanly opens with an UncleanShutdownWarning and ``store_info().clean`` False.
        """
        opened = open_files(manifest_path, mode, expect=expect, layout=layout)
        store: MemmapStore | None = None
        try:
            store = cls(opened.manifest.parent, simulation_id=opened.recorded.simulation_id,
                        namespace=opened.recorded.namespace, default_mode=opened.mode, layout=opened.layout,
                        tile_size=opened.tile or DEFAULT_TILE, access=access, prefetch=prefetch)
            writer_active = store._adopt(opened)
        except BaseException:
            opened.release_files()
            if store is not None and store._owner_lock is not None:
                store._owner_lock.release(unlink=True)
            opened.release_lock()
            raise
        if opened.recorded.clean is False and not writer_active:
            warnings.warn(
                f"store {str(opened.manifest)!r} was not closed cleanly (generation {opened.recorded.generation}): "
                "writes after its last flush may be torn",
                UncleanShutdownWarning,
                stacklevel=2,
            )
        return store

    def _adopt(self, opened: OpenedFiles) -> bool:
        """Take over a reopened store's lock and files; whether a writer still holds the store (readers)."""
        manifest, recorded = opened.manifest, opened.recorded
        self._manifest_path, self._lock, self._generation = manifest, opened.lock, recorded.generation
        self._was_clean = recorded.clean is not False
        for name, entry in recorded.grids.items():
            mapped = opened.files[name]
            mapped.advise_access(self.access)
            cells = entry.file_bytes // entry.dtype.itemsize
            self._register(self._new_buffer(name, entry.shape, entry.dtype, opened.mode, 0.0,
                                            mapped.buffer(entry.dtype, cells), manifest.parent / entry.file_name, mapped))
        if opened.mode == "r+":
            self.record_change(added=[self._entries[n].info for n in self._entries])  # now open: not clean
        return opened.mode == "r" and is_held(opened.lock_path, WRITER_BYTE)
