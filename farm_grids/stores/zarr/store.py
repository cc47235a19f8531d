"""ZarrStore: grids as chunked, compressed zarr v3 arrays in one group, on a local path or object storage.

Reads and writes go through a chunk cache with a byte budget (``ChunkMirror``): a window
read fetches only the chunks it covers, a write marks its chunks dirty, and ``flush()``
writes the dirty chunks back. Mode "r" opens a group read-only, so many processes can
share one world (no lock: object storage has none; one writer per group is the caller's
rule). ``get()`` raises GridNotDenseError: there is no dense array, ``read()`` copies.
Needs the ``zarr`` extra (``pip install farm-grids[zarr]``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

import numpy as np

from farm_grids.errors import (
    FarmGridsError,
    GridExistsError,
    InvalidGridSpecError,
    ObjectStoreError,
    StoreClosedError,
)
from farm_grids.limits import physical_memory
from farm_grids.stores.base import GridStore
from farm_grids.stores.zarr.chunk_cache import ChunkBudget, ChunkMirror
from farm_grids.stores.entry import GridEntry
from farm_grids.stores.validation import validate_directory, validate_label, validate_storage_size
from farm_grids.stores.zarr.records import ArrayRecord, checked_array, parse_records
from farm_grids.windows import WindowPlan

__all__ = ["ZarrStore", "open_zarr_group", "remote_call"]

T = TypeVar("T")
SCHEMA = "farm-grids/zarr-store/v1"
DEFAULT_CHUNK = 128
# Bounded so a failing endpoint is an error in seconds, not a hang for minutes.
S3_DEFAULTS: dict[str, Any] = {"config_kwargs": {"connect_timeout": 3, "read_timeout": 20,
                                                  "retries": {"max_attempts": 2, "mode": "standard"}}}


def remote_call(what: str, call: Callable[[], T]) -> T:
    """Run a zarr / fsspec call; any failure that is not already typed becomes ObjectStoreError."""
    try:
        return call()
    except FarmGridsError:
        raise
    except RuntimeError as exc:  # numcodecs: "Zstd decompression error" and the like
        raise ObjectStoreError(f"{what}: a chunk is corrupt or unreadable: {exc}") from exc
    except Exception as exc:  # botocore, aiohttp, fsspec, zarr: one typed error at the boundary
        raise ObjectStoreError(f"{what}: {type(exc).__name__}: {exc}") from exc


def is_url(location: str) -> bool:
    return "://" in location


def open_zarr_group(location: str | os.PathLike[str], mode: str, storage_options: Mapping[str, Any] | None, *,
                    attributes: Mapping[str, Any] | None = None) -> Any:
    """The zarr v3 group at ``location`` ("w-" create, "a", "r+", "r"), with bounded S3 time-outs.

    zarr v3 only: a v2 group (whose codecs may include pickle) is refused, never read.
    ``attributes`` are written with the group's creation, in the same document.
    """
    import zarr

    if storage_options is not None and not isinstance(storage_options, Mapping):
        raise InvalidGridSpecError(f"storage_options must be a mapping (or None), got {type(storage_options).__name__}")
    where = os.fspath(location)
    options = None
    if is_url(where):
        defaults = S3_DEFAULTS if where.startswith(("s3://", "s3a://")) else {}
        options = {**defaults, **dict(storage_options or {})}
    elif storage_options:
        raise InvalidGridSpecError(f"storage_options apply to URLs, not to the local path {where!r}")
    extra = {"attributes": dict(attributes)} if attributes is not None else {}
    return remote_call(f"opening zarr group {where!r}", lambda: zarr.open_group(
        where, mode=mode, storage_options=options, zarr_format=3, **extra))


class ZarrStore(GridStore):
    """Grids as zarr v3 arrays (``chunk``-square chunks, zstd with checksums) in one group."""

    backend = "zarr"
    layout = "chunks"
    supports_reopen = True
    in_memory = False

    def __init__(
        self,
        location: str | os.PathLike[str] | None = None,
        *,
        default_mode: str = "w+",
        storage_options: Mapping[str, Any] | None = None,
        chunk: int = DEFAULT_CHUNK,
        cache_bytes: int | None = None,
        namespace: str | None = None,
        simulation_id: str | None = None,
        default_dtype: object = "float32",
    ) -> None:
        super().__init__(default_dtype=default_dtype, default_mode=default_mode)
        if isinstance(chunk, bool) or not isinstance(chunk, int) or not 8 <= chunk <= 4096:
            raise InvalidGridSpecError(f"chunk must be an integer in [8, 4096], got {chunk!r}")
        budget = cache_bytes if cache_bytes is not None else physical_memory() // 8
        if isinstance(budget, bool) or not isinstance(budget, int) or budget <= 0:
            raise InvalidGridSpecError(f"cache_bytes must be a positive integer, got {cache_bytes!r}")
        validate_label(namespace, "namespace")
        validate_label(simulation_id, "simulation_id")
        if location is not None and not is_url(os.fspath(location)):
            validate_directory(location, "zarr group location")
        self.location = os.fspath(location) if location is not None else tempfile.mkdtemp(suffix=".zarr")
        self.storage_options = dict(storage_options or {})
        self.namespace, self.simulation_id, self.chunk = namespace, simulation_id, chunk
        self.budget = ChunkBudget(budget)
        zarr_mode = {"w+": "a", "r+": "r+", "r": "r"}[self.default_mode]
        self.group = open_zarr_group(self.location, zarr_mode, storage_options)
        # Arrays already in the group keep their records: a "w+" store adds, never forgets.
        self._records = parse_records(remote_call("reading the zarr group's attributes", lambda: dict(
            self.group.attrs).get("farm_grids")), self.location)
        if self.default_mode == "w+":
            self._write_records()
        else:
            # Every array is checked against its record before any is registered.
            names = remote_call("listing the zarr group", self._array_names)
            arrays = {name: self._recorded_array(name) for name in names}
            for name, array in arrays.items():
                self._register(self._entry_for(name, array, self.default_mode))

    @property
    def file_backed(self) -> bool:  # type: ignore[override]
        """Grids in local files (a path per grid); False on object storage, which has no paths."""
        return not is_url(self.location)

    @property
    def manifest_path(self) -> Path | None:  # type: ignore[override]
        """The group's location for local stores (reopen URLs with ``ZarrStore.open(url)``)."""
        return None if is_url(self.location) else Path(self.location)

    @classmethod
    def open(cls, manifest_path: str | os.PathLike[str], mode: str = "r+", **options: Any) -> ZarrStore:  # type: ignore[override]
        """Reopen a zarr group written by a ZarrStore: "r+" to write, "r" for a shared reader."""
        if mode not in ("r+", "r"):
            raise InvalidGridSpecError(f"open() takes mode 'r+' or 'r', got {mode!r}")
        return cls(manifest_path, default_mode=mode, **options)

    # -- records ----------------------------------------------------------------------------
    def _write_records(self) -> None:
        marker = {"schema": SCHEMA, "namespace": self.namespace, "simulation_id": self.simulation_id,
                  "grids": {name: record.to_json() for name, record in sorted(self._records.items())}}
        remote_call("recording the zarr group's grids", lambda: self.group.attrs.update({"farm_grids": marker}))

    def _array_names(self) -> list[str]:
        """The group's arrays; where zarr cannot parse one's metadata, every member, so the check names it."""
        try:
            return sorted(self.group.array_keys())
        except (ValueError, TypeError):  # an unparsable zarr.json: _recorded_array refuses it by name
            from zarr.core.sync import sync

            async def members() -> list[str]:
                return [key async for key in self.group.store.list_dir(self.group.path)]

            return sorted(key for key in sync(members()) if key != "zarr.json" and not key.startswith("."))

    def _recorded_array(self, name: str) -> Any:
        """The array ``name`` once its shape, dtype and chunks match the record, and fit this process."""
        record = self._records.get(name)
        # Metadata zarr cannot parse is a mismatch (checked_array); any other failure is I/O.
        array = remote_call(f"opening zarr array {name!r}",
                            lambda: checked_array(lambda: self.group[name], name, record, self.location))
        validate_storage_size(record.shape, np.dtype(record.dtype), record.chunk, f"zarr array {name!r}")  # type: ignore[union-attr]
        return array

    def check_new_grid(self, name: str, shape: tuple[int, int], dtype: np.dtype) -> None:
        validate_storage_size(shape, dtype, self.chunk, f"grid {name!r}")  # the chunk mirror maps it whole

    # -- primitives -----------------------------------------------------------------------
    def _entry_for(self, name: str, array: Any, mode: str) -> GridEntry:
        shape = (int(array.shape[0]), int(array.shape[1]))
        mirror = ChunkMirror(array, self.budget, writable=mode != "r")
        path = None if is_url(self.location) else Path(self.location) / name
        return GridEntry(self.describe_grid(name, shape, np.dtype(array.dtype), mode, path), None, mirror)

    def allocate_grid(self, name: str, shape: tuple[int, int], dtype: np.dtype, mode: str, fill: float) -> GridEntry:
        from zarr.codecs import ZstdCodec

        if remote_call("checking the group", lambda: name in self.group):
            raise GridExistsError(f"zarr group {self.location!r} already holds {name!r}; reopen it with mode 'r+'")
        # Recorded before the array exists: a crash in between leaves a record without an
        # array (ignored on reopen), never an array nobody recorded.
        self._records[name] = ArrayRecord(shape, dtype.name, self.chunk)
        self._write_records()
        array = remote_call(f"creating zarr array {name!r}", lambda: self.group.create_array(
            name, shape=shape, chunks=(self.chunk, self.chunk), dtype=dtype, fill_value=fill,
            compressors=ZstdCodec(level=3, checksum=True), dimension_names=("y", "x")))
        return self._entry_for(name, array, mode)

    def _mirror(self, entry: GridEntry) -> ChunkMirror:
        if entry.state is None:
            raise StoreClosedError(f"grid {entry.name!r} is closed")
        return entry.state

    def get_window(self, name: str, y0: int, y1: int, x0: int, x1: int, *, normalize_by: float | None = None,
                   out_dtype: object = np.float32) -> np.ndarray:
        entry = self._entries.get(name) if name.__class__ is str else None
        mirror = entry.state if entry is not None else None
        if mirror is not None and normalize_by is None and out_dtype is np.float32:
            # A fully cached grid, in bounds, float32 out: one copy out of the cached chunks, as
            # the checked path does after its checks (anything unusual takes that path, which
            # raises the typed error).
            height, width = mirror.shape
            try:
                if (mirror.complete and 0 <= y0 < y1 <= height and 0 <= x0 < x1 <= width
                        and y0.__class__ is not bool is not y1.__class__
                        and x0.__class__ is not bool is not x1.__class__):
                    t = mirror.tile
                    ty, tx = y0 // t, x0 // t
                    if (y1 - 1) // t == ty and (x1 - 1) // t == tx:  # inside one chunk: one slice copy
                        return mirror.grid.tiles[ty, tx, y0 - ty * t : y1 - ty * t, x0 - tx * t : x1 - tx * t].astype(
                            np.float32)
                    out = np.empty((y1 - y0, x1 - x0), dtype=np.float32)
                    mirror.grid.read_region(slice(y0, y1), slice(x0, x1), out)
                    return out
            except (TypeError, IndexError):  # a float or odd bound: the checked path names it
                pass
        return super().get_window(name, y0, y1, x0, x1, normalize_by=normalize_by, out_dtype=out_dtype)

    def _region_tiles(self, mirror: ChunkMirror, rows: slice, cols: slice) -> np.ndarray:
        wanted = np.zeros(mirror.loaded.shape, dtype=bool)
        tile_rows, tile_cols = mirror.grid.tiles_of_region(rows, cols)
        wanted[tile_rows, tile_cols] = True
        return wanted

    def _chunk_batch(self, mirror: ChunkMirror) -> int:
        """Chunks one step may hold in the cache: half the budget, so neighbours stay cached."""
        return max(1, self.budget.limit_bytes // mirror.chunk_bytes // 2)

    def _blocks(self, mirror: ChunkMirror, rows: slice, cols: slice) -> list[tuple[slice, slice]]:
        """The region cut at chunk boundaries into rectangles of at most one step's chunks each."""
        t, batch = mirror.tile, self._chunk_batch(mirror)
        tile_rows, tile_cols = mirror.grid.tiles_of_region(rows, cols)
        if (tile_rows.stop - tile_rows.start) * (tile_cols.stop - tile_cols.start) <= batch:
            return [(rows, cols)]
        blocks = []
        for ty in range(tile_rows.start, tile_rows.stop):
            y0, y1 = max(rows.start, ty * t), min(rows.stop, (ty + 1) * t)
            for tx in range(tile_cols.start, tile_cols.stop, batch):
                x0, x1 = max(cols.start, tx * t), min(cols.stop, (tx + batch) * t)
                blocks.append((slice(y0, y1), slice(x0, x1)))
        return blocks

    def read_region(self, entry: GridEntry, rows: slice, cols: slice, out: np.ndarray) -> None:
        mirror = self._mirror(entry)
        if mirror.complete:  # the whole grid is cached: nothing to fetch, nothing to evict
            mirror.grid.read_region(rows, cols, out)
            return
        for part_rows, part_cols in self._blocks(mirror, rows, cols):
            remote_call(f"reading {entry.name!r}", lambda: mirror.ensure(self._region_tiles(mirror, part_rows, part_cols)))
            target = out[part_rows.start - rows.start : part_rows.stop - rows.start,
                         part_cols.start - cols.start : part_cols.stop - cols.start]
            mirror.grid.read_region(part_rows, part_cols, target)

    def write_region(self, entry: GridEntry, rows: slice, cols: slice, data: np.ndarray) -> None:
        mirror = self._mirror(entry)
        block = np.broadcast_to(data, (rows.stop - rows.start, cols.stop - cols.start))
        for part_rows, part_cols in self._blocks(mirror, rows, cols):
            wanted = self._region_tiles(mirror, part_rows, part_cols)
            covered = self._covered_tiles(mirror, part_rows, part_cols)
            remote_call(f"writing {entry.name!r}", lambda: mirror.ensure(wanted, overwrite=covered))
            mirror.grid.write_region(part_rows, part_cols, block[part_rows.start - rows.start : part_rows.stop - rows.start,
                                                                 part_cols.start - cols.start : part_cols.stop - cols.start])
            mirror.dirty |= wanted

    def _covered_tiles(self, mirror: ChunkMirror, rows: slice, cols: slice) -> np.ndarray:
        """Chunks a region write replaces whole: no need to fetch them first."""
        t, (height, width) = mirror.tile, mirror.shape
        covered = np.zeros(mirror.loaded.shape, dtype=bool)
        ty0, ty1 = -(-rows.start // t), (rows.stop // t) + (1 if rows.stop == height else 0)
        tx0, tx1 = -(-cols.start // t), (cols.stop // t) + (1 if cols.stop == width else 0)
        covered[ty0:ty1, tx0:tx1] = True
        return covered

    def release_grid(self, entry: GridEntry, delete_file: bool) -> None:
        mirror, entry.state = entry.state, None
        if mirror is not None:
            mirror.release()
        if delete_file and self.default_mode != "r":
            remote_call(f"deleting {entry.name!r}", lambda: self.group.__delitem__(entry.name))
            # Forgotten after the array is gone, for the same reason as in allocate_grid.
            if self._records.pop(entry.name, None) is not None:
                self._write_records()

    def close_all(self, *, delete_files: bool = False) -> None:
        """Close every grid; with ``delete_files`` a local group left empty goes too (like a manifest)."""
        was_closed = self._closed
        super().close_all(delete_files=delete_files)
        if delete_files and not was_closed and self.default_mode != "r" and not is_url(self.location):
            # Only the group's own metadata may remain: anything else is someone's data.
            group = Path(self.location)
            if group.is_dir() and [p.name for p in group.iterdir()] == ["zarr.json"]:
                (group / "zarr.json").unlink()
                group.rmdir()

    def flush_grid(self, entry: GridEntry) -> None:
        mirror = self._mirror(entry)
        remote_call(f"writing back {entry.name!r}", mirror.flush)

    # -- fast paths over the cached chunks -------------------------------------------------
    def _plan_tiles(self, mirror: ChunkMirror, plan: WindowPlan) -> np.ndarray:
        """Chunks the planned windows cover (each window at most two chunk rows by two columns)."""
        t, side, width = mirror.tile, plan.side, mirror.shape[1]
        wanted = np.zeros(mirror.loaded.shape, dtype=bool)
        y0, x0 = np.divmod(plan.positions.astype(np.int64), width)
        lows_y, lows_x = [y0], [x0]
        highs_y, highs_x = [y0 + side - 1], [x0 + side - 1]
        if plan.edge.size:
            r = plan.radius
            lows_y.append(np.clip(plan.edge_ys - r, 0, mirror.shape[0] - 1))
            highs_y.append(np.clip(plan.edge_ys + r, 0, mirror.shape[0] - 1))
            lows_x.append(np.clip(plan.edge_xs - r, 0, width - 1))
            highs_x.append(np.clip(plan.edge_xs + r, 0, width - 1))
        ly, hy = np.concatenate(lows_y) // t, np.concatenate(highs_y) // t
        lx, hx = np.concatenate(lows_x) // t, np.concatenate(highs_x) // t
        for dy in range(int((hy - ly).max(initial=0)) + 1):
            for dx in range(int((hx - lx).max(initial=0)) + 1):
                keep = (ly + dy <= hy) & (lx + dx <= hx)
                wanted[(ly + dy)[keep], (lx + dx)[keep]] = True
        return wanted

    def gather_windows(self, entry: GridEntry, plan: WindowPlan, normalize_by: float | None, out: np.ndarray | None) -> np.ndarray:
        mirror = self._mirror(entry)
        if mirror.complete:  # the whole grid is cached: nothing to fetch, nothing to evict
            return mirror.grid.gather(plan, normalize_by, out)
        wanted = self._plan_tiles(mirror, plan)
        if int(np.count_nonzero(wanted)) > self._chunk_batch(mirror):
            # More chunks than the cache holds at once: window by window, a few chunks each.
            return super().gather_windows(entry, plan, normalize_by, out)
        remote_call(f"reading windows of {entry.name!r}", lambda: mirror.ensure(wanted))
        return mirror.grid.gather(plan, normalize_by, out)

    def _cell_groups(self, mirror: ChunkMirror, flat: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """(positions into ``flat``, chunk mask) per step; a stable sort keeps each cell's point order."""
        ys, xs = np.divmod(flat, mirror.shape[1])
        chunk = (ys // mirror.tile) * mirror.grid.nx + xs // mirror.tile
        order = np.argsort(chunk, kind="stable")
        distinct, starts = np.unique(chunk[order], return_index=True)
        batch = self._chunk_batch(mirror)
        groups = []
        for first in range(0, distinct.size, batch):
            stop = starts[first + batch] if first + batch < distinct.size else order.size
            wanted = np.zeros(mirror.loaded.shape, dtype=bool)
            wanted.reshape(-1)[distinct[first : first + batch]] = True
            groups.append((order[starts[first] : stop], wanted))
        return groups

    def read_cells(self, entry: GridEntry, flat: np.ndarray) -> np.ndarray:
        mirror = self._mirror(entry)
        values = np.empty(flat.shape, dtype=entry.dtype)
        for positions, wanted in self._cell_groups(mirror, flat):
            remote_call(f"reading cells of {entry.name!r}", lambda: mirror.ensure(wanted))
            values[positions] = mirror.grid.read_cells(flat[positions])
        return values

    def scatter_cells(self, entry: GridEntry, flat: np.ndarray, amounts: np.ndarray, accumulate: bool,
                 clip_max: float | None) -> None:
        mirror = self._mirror(entry)
        for positions, wanted in self._cell_groups(mirror, flat):
            remote_call(f"writing cells of {entry.name!r}", lambda: mirror.ensure(wanted))
            mirror.grid.scatter(flat[positions], amounts[positions], accumulate, clip_max)
            mirror.dirty |= wanted

    def apply_region(self, entry: GridEntry, rows: slice, cols: slice, op: Callable[[np.ndarray], None]) -> None:
        mirror = self._mirror(entry)
        for part_rows, part_cols in self._blocks(mirror, rows, cols):
            wanted = self._region_tiles(mirror, part_rows, part_cols)
            remote_call(f"updating {entry.name!r}", lambda: mirror.ensure(wanted))
            mirror.grid.apply_region(part_rows, part_cols, op)
            mirror.dirty |= wanted

    def scale_marked_tiles(self, entry: GridEntry, mask: np.ndarray, tile_size: int, factor: object, floor: float) -> np.ndarray:
        mirror = self._mirror(entry)
        if tile_size != mirror.tile:
            return super().scale_marked_tiles(entry, mask, tile_size, factor, floor)
        faded = np.zeros(mask.shape, dtype=bool)
        marked = np.flatnonzero(mask)
        batch = self._chunk_batch(mirror)
        for first in range(0, marked.size, batch):
            part = np.zeros(mask.shape, dtype=bool)
            part.reshape(-1)[marked[first : first + batch]] = True
            remote_call(f"decaying {entry.name!r}", lambda: mirror.ensure(part))
            faded |= mirror.grid.scale_marked_tiles(part, factor, floor)
            mirror.dirty |= part
        return faded

    def chunks_fetched(self) -> int:
        """Chunks read from the zarr store by this store's grids so far."""
        return sum(entry.state.fetched for entry in self._entries.values() if entry.state is not None)
