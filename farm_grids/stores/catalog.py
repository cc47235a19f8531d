"""The grids a store holds: their lifecycle (create, close, flush) and queries, written once over the backend contract."""

from __future__ import annotations

from types import TracebackType
from typing import Iterator, Self

import numpy as np

from farm_grids.errors import (
    GridExistsError,
    GridNotFoundError,
    InvalidGridSpecError,
    ReadOnlyGridError,
    StoreClosedError,
)
from farm_grids.limits import check_request
from farm_grids.stores.contract import StoreBackend
from farm_grids.stores.entry import GridEntry, GridInfo
from farm_grids.stores.validation import (
    validate_dtype,
    validate_label,
    validate_mode,
    validate_name,
    validate_shape,
)
from farm_grids.values import checked_scalar

__all__ = ["GridCatalog"]


class GridCatalog(StoreBackend):
    """Named grids: creating, closing and looking them up; ``GridStore`` adds the reads and writes."""

    def __init__(self, *, default_dtype: object = "float32", default_mode: str = "w+") -> None:
        self.default_dtype = validate_dtype(default_dtype)
        self.default_mode = validate_mode(default_mode)
        self._entries: dict[str, GridEntry] = {}
        self._closed = False

    # -- internal hooks (farm_grids' own backends; not part of the contract) ----------------
    def _after_close(self) -> None:
        """Hook after every grid was released by ``close_all`` (the memmap store drops its locks)."""

    def _register(self, entry: GridEntry) -> None:
        self._entries[entry.name] = entry

    def _unregister(self, name: str) -> GridEntry:
        return self._entries.pop(name)

    # -- lifecycle ----------------------------------------------------------------------
    def create(self, name: str, shape: tuple[int, int], *, dtype: object = None, mode: str | None = None,
               fill: float = 0.0) -> np.ndarray | None:
        """Create a grid filled with ``fill``; returns ``get(name)`` (None without a dense array)."""
        self._check_open()
        validate_name(name)
        # Backends put these labels into file and object names: checked here, once for all of them.
        validate_label(getattr(self, "namespace", None), "namespace")
        validate_label(getattr(self, "simulation_id", None), "simulation_id")
        if name in self._entries:
            raise GridExistsError(f"grid {name!r} already exists in this {self.backend} store")
        dims = validate_shape(shape)
        resolved = self.default_dtype if dtype is None else validate_dtype(dtype)
        chosen = validate_mode(self.default_mode if mode is None else mode)
        if chosen == "r":
            raise InvalidGridSpecError(
                f"mode 'r' cannot create grid {name!r}: a new grid must be writable "
                "(reopen existing files read-only with open(manifest, mode='r'))"
            )
        fill_value = checked_scalar(fill, resolved, "fill")
        self.check_new_grid(name, dims, resolved)
        if self.in_memory:
            check_request(dims[0] * dims[1] * resolved.itemsize, f"grid {name!r} {dims} {resolved.name} in memory")
        entry = self.allocate_grid(name, dims, resolved, chosen, fill_value)
        try:
            self.record_change(added=[entry.info])
        except BaseException:
            self.release_grid(entry, True)
            raise
        self._register(entry)
        # What get() gives (a backend may hand out a read-only copy), never the array behind it.
        return None if entry.array is None else self.dense_array(entry)

    def close(self, name: str, *, delete_file: bool = False) -> None:
        """Flush (when writable) and release one grid; optionally delete its file."""
        entry = self._entry(name)
        if delete_file:
            self._check_deletable(name)
        if entry.info.writable:
            self.flush_grid(entry)
        # Recorded first: a kill after this line leaves a manifest without the grid, never
        # a manifest naming a deleted file.
        self.record_change(removed=[name] if delete_file else ())
        self.release_grid(self._unregister(name), delete_file)

    def close_all(self, *, delete_files: bool = False) -> None:
        """Close every grid; the store accepts no further calls afterwards."""
        if self._closed:
            return
        names = list(self._entries)
        if delete_files:
            for name in names:
                self._check_deletable(name)
        for name in names:
            if self._entries[name].info.writable:
                self.flush_grid(self._entries[name])
        self.record_change(removed=names if delete_files else (), closing=True)
        for name in names:
            self.release_grid(self._unregister(name), delete_files)
        self._closed = True
        self._after_close()

    def flush(self, name: str | None = None) -> None:
        """Make writes durable for one grid or for all writable grids."""
        self._check_open()
        for entry in [self._entry(name)] if name is not None else list(self._entries.values()):
            if entry.info.writable:
                self.flush_grid(entry)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close_all()

    # -- queries ------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    def has(self, name: object) -> bool:
        return isinstance(name, str) and name in self._entries

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def names(self) -> list[str]:
        return list(self._entries)

    def get(self, name: str) -> np.ndarray:
        """The grid's dense array, sharing memory with the store (read-only in mode 'r').

        Read it freely; change it only through store operations. A backend without a dense
        array raises GridNotDenseError.
        """
        return self.dense_array(self._entry(name))

    def read(self, name: str) -> np.ndarray:
        """A fresh dense copy of the whole grid in its own dtype, on every backend."""
        entry = self._entry(name)
        check_request(entry.info.nbytes, f"a copy of grid {name!r}")
        out = np.empty(entry.shape, dtype=entry.dtype)
        self.read_region(entry, slice(0, entry.shape[0]), slice(0, entry.shape[1]), out)
        return out

    def info(self, name: str) -> GridInfo:
        return self._entry(name).info

    def total_size_bytes(self) -> int:
        return sum(entry.info.nbytes for entry in self._entries.values())

    # -- helpers ------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError(f"this {self.backend} store is closed")

    def _entry(self, name: str) -> GridEntry:
        self._check_open()
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            known = ", ".join(sorted(self._entries)) or "none"
            raise GridNotFoundError(f"no grid named {name!r} (known: {known})") from None

    def _check_deletable(self, name: str) -> None:
        if not self._entries[name].info.writable:
            # A read-only reader shares a writer's files; deleting them would break the writer.
            raise ReadOnlyGridError(f"grid {name!r} was opened read-only; its file cannot be deleted")

    def _writable_entry(self, name: str) -> GridEntry:
        entry = self._entry(name)
        if not entry.info.writable:
            raise ReadOnlyGridError(f"grid {name!r} was opened read-only (mode 'r')")
        return entry

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self._entries)} grids, {self.total_size_bytes()} bytes)"
