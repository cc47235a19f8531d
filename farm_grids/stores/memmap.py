"""MemmapManager: the grid-store interface over sparse numpy memmaps on real files."""

from __future__ import annotations

import mmap
import os
import secrets
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from farm_grids.errors import (
    GridExistsError,
    GridFileMismatchError,
    GridFileMissingError,
    InvalidGridSpecError,
)
from farm_grids.stores.base import GridInfo, GridStore, _Entry, validate_dtype, validate_mode
from farm_grids.stores.files import (
    MANIFEST_SCHEMA,
    create_sparse_file,
    grid_file_name,
    manifest_file_name,
    parse_grid_file_name,
    prepare_directory,
    read_manifest,
    write_manifest,
)

__all__ = ["MemmapManager"]


class MemmapManager(GridStore):
    """Grids in memory-mapped files, one file per grid, with a manifest to reopen them.

    Files are created sparse, so a zero-filled grid costs neither RAM nor disk blocks
    until its pages are written.
    """

    backend = "memmap"

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        *,
        simulation_id: str | None = None,
        namespace: str | None = None,
        default_dtype: object = "float32",
        default_mode: str = "w+",
    ) -> None:
        super().__init__(default_dtype=default_dtype, default_mode=default_mode)
        self.directory = prepare_directory(directory, writable=self.default_mode != "r")
        self.simulation_id = simulation_id
        self.namespace = namespace
        self.pid = os.getpid()
        # A per-manager token keeps two managers of one process (same simulation_id) apart.
        self.token = secrets.token_hex(4)
        self._manifest_path: Path | None = None
        # Grids closed without deleting their file stay in the manifest so a later run
        # can reopen them.
        self._kept: dict[str, dict[str, Any]] = {}

    # -- backend primitives -------------------------------------------------------------
    def _allocate(
        self, name: str, shape: tuple[int, int], dtype: np.dtype, mode: str, fill: float
    ) -> tuple[np.ndarray, Path | None]:
        if name in self._kept:
            raise GridExistsError(
                f"grid {name!r} was closed with its file kept; reopen it with MemmapManager.open "
                "or close it with delete_file=True first"
            )
        path = self.directory / grid_file_name(
            name,
            shape,
            pid=self.pid,
            token=self.token,
            namespace=self.namespace,
            simulation_id=self.simulation_id,
        )
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        try:
            create_sparse_file(path, nbytes)
        except FileExistsError as exc:
            raise InvalidGridSpecError(
                f"grid file {str(path)!r} already exists (two names sanitise alike?)"
            ) from exc
        except OSError as exc:
            raise InvalidGridSpecError(f"cannot create grid file {str(path)!r}: {exc}") from exc
        try:
            # "r+" on the truncated file maps it without writing anything: it stays sparse.
            backing = np.memmap(path, dtype=dtype, mode="r+", shape=shape)
            if fill != 0.0:
                _advise_huge_pages(backing)
                backing.fill(fill)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return backing, path

    def _release(self, entry: _Entry, delete_file: bool) -> None:
        backing = entry.backing
        entry.view = entry.backing = None  # type: ignore[assignment]
        mm = getattr(backing, "_mmap", None)
        del backing
        if mm is not None:
            try:
                mm.close()
            except BufferError:
                pass  # a caller still holds a view; the mapping closes when it is dropped
        if delete_file and entry.info.path is not None:
            entry.info.path.unlink(missing_ok=True)

    def _before_dense_write(self, entry: _Entry) -> None:
        _advise_huge_pages(entry.backing)

    def _flush_entry(self, entry: _Entry) -> None:
        entry.backing.flush()

    def _after_change(self) -> None:
        if self.default_mode == "r" and self._manifest_path is not None:
            return  # a reader never rewrites the writer's manifest
        if not self._entries and not self._kept:
            if self._manifest_path is not None:
                self._manifest_path.unlink(missing_ok=True)
            return
        write_manifest(self.manifest_path, self._manifest_payload())

    # -- manifest -----------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        """Where this manager records its grids so another process can reopen them."""
        if self._manifest_path is None:
            self._manifest_path = self.directory / manifest_file_name(
                pid=self.pid,
                token=self.token,
                namespace=self.namespace,
                simulation_id=self.simulation_id,
            )
        return self._manifest_path

    def _manifest_payload(self) -> dict[str, Any]:
        grids = {name: _record(entry.info) for name, entry in self._entries.items()}
        grids.update(self._kept)
        return {
            "schema": MANIFEST_SCHEMA,
            "namespace": self.namespace,
            "simulation_id": self.simulation_id,
            "pid": self.pid,
            "token": self.token,
            "grids": grids,
        }

    def close(self, name: str, *, delete_file: bool = False) -> None:
        entry = self._entry(name)
        if not delete_file and entry.info.path is not None and self.default_mode != "r":
            self._kept[name] = _record(entry.info)
        elif delete_file:
            self._kept.pop(name, None)
        super().close(name, delete_file=delete_file)

    # -- reopening ------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        manifest_path: str | os.PathLike[str],
        mode: str = "r+",
        *,
        expect: Mapping[str, tuple[tuple[int, int], object]] | None = None,
    ) -> MemmapManager:
        """Reopen every grid a manifest lists, checking shape, dtype and file size.

        ``mode`` "r+" reopens for writing; "r" maps read-only, so several reader
        processes can share one writer's files. ``expect`` optionally maps grid names
        to the ``(shape, dtype)`` the caller requires.
        """
        chosen = validate_mode(mode)
        if chosen == "w+":
            raise InvalidGridSpecError("open() takes mode 'r+' or 'r'; 'w+' would discard the data")
        manifest = Path(manifest_path).resolve()
        payload = read_manifest(manifest)
        specs = {name: _grid_spec(manifest, name, raw) for name, raw in payload["grids"].items()}
        for name, (expected_shape, expected_dtype) in (expect or {}).items():
            if name not in specs:
                raise GridFileMismatchError(f"manifest {str(manifest)!r} has no grid {name!r}")
            shape, dtype, _ = specs[name]
            if tuple(expected_shape) != shape or validate_dtype(expected_dtype) != dtype:
                raise GridFileMismatchError(
                    f"grid {name!r} is {shape} {dtype}, expected {tuple(expected_shape)} "
                    f"{validate_dtype(expected_dtype)}"
                )
        store = cls(
            manifest.parent,
            simulation_id=payload.get("simulation_id"),
            namespace=payload.get("namespace"),
            default_mode=chosen,
        )
        # Keep writing the manifest we were given, so a later reopen still finds everything.
        store._manifest_path = manifest
        for name, (shape, dtype, path) in specs.items():
            backing = np.memmap(path, dtype=dtype, mode=chosen, shape=shape)
            store._register(name, backing, path, chosen)
        return store


def _advise_huge_pages(backing: np.memmap) -> None:
    """Ask for huge page-cache folios before a grid is written whole.

    A dense grid costs the same memory and disk either way, but mapped in 2 MiB pages
    its window reads miss the TLB as rarely as a RAM array's (numpy asks for huge pages
    on large anonymous arrays). Sparse grids are never advised: there each touched
    spot would cost a 2 MiB folio instead of a 4 KiB page. The kernel may ignore this.
    """
    advice = getattr(mmap, "MADV_HUGEPAGE", None)
    region = getattr(backing, "_mmap", None)
    if advice is not None and region is not None:
        try:
            region.madvise(advice)
        except OSError:
            pass  # no transparent huge pages here: 4 KiB pages, same results


def _record(info: GridInfo) -> dict[str, Any]:
    """One grid's manifest entry; the path is relative so the directory may move."""
    assert info.path is not None
    return {
        "path": info.path.name,
        "shape": list(info.shape),
        "dtype": info.dtype,
        "nbytes": info.nbytes,
    }


def _grid_spec(manifest: Path, name: str, raw: Any) -> tuple[tuple[int, int], np.dtype, Path]:
    """Check one manifest entry against its file on disk before anything is mapped."""
    try:
        shape = (int(raw["shape"][0]), int(raw["shape"][1]))
        dtype = validate_dtype(raw["dtype"])
        path = manifest.parent / str(raw["path"])
    except (KeyError, TypeError, IndexError, ValueError) as exc:
        raise GridFileMismatchError(f"manifest entry {name!r} is malformed: {exc}") from exc
    if len(raw["shape"]) != 2 or shape[0] <= 0 or shape[1] <= 0:
        raise GridFileMismatchError(f"manifest entry {name!r} has a bad shape {raw['shape']!r}")
    if not path.is_file():
        raise GridFileMissingError(f"grid file {str(path)!r} for {name!r} does not exist")
    named = parse_grid_file_name(path.name)
    if named is not None and named["shape"] != shape:
        # Same byte count, other shape (e.g. transposed) would scramble every row.
        raise GridFileMismatchError(
            f"manifest says {name!r} is {shape}, but its file {path.name!r} was created as {named['shape']}"
        )
    expected = shape[0] * shape[1] * dtype.itemsize
    actual = path.stat().st_size
    if actual != expected:
        raise GridFileMismatchError(
            f"grid file {str(path)!r} holds {actual} bytes; {shape} {dtype} needs {expected}"
        )
    if int(raw.get("nbytes", expected)) != expected:
        raise GridFileMismatchError(f"manifest entry {name!r} records nbytes inconsistent with shape")
    return shape, dtype, path
