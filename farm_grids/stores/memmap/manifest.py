"""The store manifest: strict validation on read, a checksum, and crash-safe writes that survive a full disk."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from farm_grids.errors import (
    DiskFullError,
    GridFileMismatchError,
    GridFileMissingError,
    InvalidGridSpecError,
    UnsafeManifestError,
)
from farm_grids.limits import MAX_DIMENSION
from farm_grids.stores.entry import GridInfo
from farm_grids.stores.tiled import tile_buffer_cells, validate_layout
from farm_grids.stores.validation import SUPPORTED_DTYPES

__all__ = [
    "MANIFEST_SCHEMA",
    "Manifest",
    "ManifestEntry",
    "manifest_entry",
    "read_manifest",
    "remove_manifest",
    "write_manifest",
]

MANIFEST_SCHEMA = "farm-grids/manifest/v2"
_OLD_SCHEMAS = ("farm-grids/manifest/v1",)
_MAX_BYTES = 16 * 2**20  # far above any real manifest; a bigger file is not one of ours
_TOP_KEYS = {"schema", "generation", "clean", "namespace", "simulation_id", "pid", "token", "grids", "checksum"}
_ENTRY_KEYS = {"path", "shape", "dtype", "nbytes"}
_LAYOUT_KEYS = {"layout", "tile"}
# The spare file a manifest is written into: reserved in advance, so rewriting the manifest
# (a close on a full disk, a delete that would free space) never needs a new block.
_SPARE_MIN_BYTES = 64 * 1024


@dataclass(frozen=True)
class ManifestEntry:
    """One grid as a manifest records it: a file name inside the store directory."""

    file_name: str
    shape: tuple[int, int]
    dtype: np.dtype
    nbytes: int
    layout: str = "rows"
    tile: int = 0  # the tile side of a "tiles" layout

    @property
    def file_bytes(self) -> int:
        """The file's size: the grid, or for tiles the grid padded to whole tiles."""
        if self.layout == "rows":
            return self.nbytes
        return tile_buffer_cells(self.shape, self.tile) * self.dtype.itemsize

    def record(self) -> dict[str, Any]:
        record = {"path": self.file_name, "shape": list(self.shape), "dtype": self.dtype.name, "nbytes": self.nbytes}
        if self.layout != "rows":
            record.update(layout=self.layout, tile=self.tile)
        return record


def manifest_entry(info: GridInfo, layout: str, tile: int) -> ManifestEntry:
    """One open grid's manifest entry; the path is a bare file name so the directory may move."""
    assert info.path is not None
    return ManifestEntry(info.path.name, info.shape, np.dtype(info.dtype), info.nbytes, layout,
                         tile if layout == "tiles" else 0)


@dataclass(frozen=True)
class Manifest:
    """A validated manifest. ``clean`` is False while a writer has it open (or crashed with it)."""

    grids: dict[str, ManifestEntry]
    generation: int = 0
    clean: bool | None = True
    namespace: str | None = None
    simulation_id: str | None = None
    pid: int | None = None
    token: str | None = None
    schema: str = MANIFEST_SCHEMA
    extra: dict[str, Any] = field(default_factory=dict)


def _fail(path: Path, reason: str) -> GridFileMismatchError:
    return GridFileMismatchError(f"manifest {str(path)!r} {reason}")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        raise ValueError(f"duplicate keys {repeated}")
    return dict(pairs)


def _checksum(payload: dict[str, Any]) -> str:
    body = {key: value for key, value in payload.items() if key != "checksum"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _entry(path: Path, name: object, raw: object) -> ManifestEntry:
    where = f"entry {name!r}"
    if not isinstance(name, str) or not name:
        raise _fail(path, f"has a grid name that is not a non-empty string: {name!r}")
    if not isinstance(raw, dict) or not _ENTRY_KEYS <= set(raw) <= _ENTRY_KEYS | _LAYOUT_KEYS:
        raise _fail(path, f"{where} must hold {sorted(_ENTRY_KEYS)} (and, for tiles, {sorted(_LAYOUT_KEYS)})")
    file_name, shape, dtype, nbytes = raw["path"], raw["shape"], raw["dtype"], raw["nbytes"]
    if not isinstance(file_name, str) or file_name in ("", ".", "..") or "/" in file_name or "\\" in file_name or "\0" in file_name:
        raise UnsafeManifestError(
            f"manifest {str(path)!r} {where}: path {file_name!r} is not a file name inside the store directory"
        )
    if not isinstance(shape, list) or len(shape) != 2 or not all(_is_int(d) and 0 < d <= MAX_DIMENSION for d in shape):
        raise _fail(path, f"{where} has a bad shape {shape!r} (two positive integers)")
    if not isinstance(dtype, str) or dtype not in SUPPORTED_DTYPES:
        raise _fail(path, f"{where} has an unsupported dtype {dtype!r}")
    resolved = np.dtype(dtype)
    expected = shape[0] * shape[1] * resolved.itemsize
    if not _is_int(nbytes) or nbytes != expected:
        raise _fail(path, f"{where} records nbytes {nbytes!r}; {tuple(shape)} {dtype} needs {expected}")
    layout, tile = raw.get("layout", "rows"), raw.get("tile", 0)
    if layout == "rows" and "tile" in raw:
        raise _fail(path, f"{where} gives a tile side without the tiles layout")
    if layout != "rows":
        try:
            layout, tile = validate_layout(layout, tile)
        except InvalidGridSpecError as exc:
            raise _fail(path, f"{where}: {exc}") from None
    return ManifestEntry(file_name, (shape[0], shape[1]), resolved, expected, layout, tile)


def _optional(path: Path, payload: dict[str, Any], key: str, kind: type) -> Any:
    value = payload.get(key)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool) and kind is not bool):
        raise _fail(path, f"field {key!r} must be {kind.__name__} or null, got {value!r}")
    return value


def parse_manifest(path: Path, text: str) -> Manifest:
    """Validate manifest text strictly: types, names, shapes, dtypes, checksum, no aliasing."""
    try:
        return _parse(path, text)
    except RecursionError:  # json.loads, or the checksum's json.dumps just past loads' depth
        raise _fail(path, "is nested too deeply to be a manifest") from None


def _parse(path: Path, text: str) -> Manifest:
    try:
        payload = json.loads(text, object_pairs_hook=_no_duplicates)
    except ValueError as exc:
        raise _fail(path, f"is not valid JSON: {exc}") from None
    if not isinstance(payload, dict) or payload.get("schema") not in (MANIFEST_SCHEMA, *_OLD_SCHEMAS):
        raise _fail(path, "is not a farm-grids manifest (unknown schema)")
    unknown = set(payload) - _TOP_KEYS
    if unknown:
        raise _fail(path, f"has unknown fields {sorted(unknown)}")
    current = payload["schema"] == MANIFEST_SCHEMA
    if current and payload.get("checksum") != _checksum(payload):
        raise _fail(path, "fails its checksum: it was edited or damaged after it was written")
    grids = payload.get("grids")
    if not isinstance(grids, dict):
        raise _fail(path, "has no 'grids' table")
    entries = {name: _entry(path, name, raw) for name, raw in grids.items()}
    owners: dict[str, str] = {}
    for name, entry in entries.items():
        if entry.file_name in owners:
            raise UnsafeManifestError(
                f"manifest {str(path)!r} entries {owners[entry.file_name]!r} and {name!r} name one file "
                f"{entry.file_name!r}"
            )
        owners[entry.file_name] = name
    generation = payload.get("generation", 0)
    clean = payload.get("clean") if current else None
    if not _is_int(generation) or generation < 0 or (current and not isinstance(clean, bool)):
        raise _fail(path, "has a bad generation or clean flag")
    token = _optional(path, payload, "token", str)
    if token is not None and not (token and all(c in "0123456789abcdef" for c in token)):
        raise _fail(path, f"has a bad token {token!r}")
    return Manifest(
        grids=entries,
        generation=generation,
        clean=clean,
        namespace=_optional(path, payload, "namespace", str),
        simulation_id=_optional(path, payload, "simulation_id", str),
        pid=_optional(path, payload, "pid", int),
        token=token,
        schema=payload["schema"],
    )


def read_manifest(path: str | os.PathLike[str]) -> Manifest:
    """Read and validate a manifest; every failure is a typed error naming the file."""
    manifest = Path(path)
    try:
        info = os.stat(manifest)
    except FileNotFoundError:
        raise GridFileMissingError(f"manifest {str(manifest)!r} does not exist") from None
    except OSError as exc:
        raise _fail(manifest, f"cannot be read: {exc}") from exc
    if not stat.S_ISREG(info.st_mode):
        raise _fail(manifest, "is not a regular file")
    if info.st_size > _MAX_BYTES:
        raise _fail(manifest, f"is {info.st_size} bytes, too large to be a manifest")
    try:
        text = manifest.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(manifest, f"is not readable UTF-8 text: {exc}") from exc
    return parse_manifest(manifest, text)


def manifest_payload(manifest: Manifest) -> dict[str, Any]:
    """The JSON object for ``manifest`` (current schema), checksum included."""
    payload: dict[str, Any] = {
        "schema": MANIFEST_SCHEMA,
        "generation": manifest.generation,
        "clean": bool(manifest.clean),
        "namespace": manifest.namespace,
        "simulation_id": manifest.simulation_id,
        "pid": manifest.pid,
        "token": manifest.token,
        "grids": {name: entry.record() for name, entry in manifest.grids.items()},
    }
    payload["checksum"] = _checksum(payload)
    return payload


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_into_spare(spare: Path, data: bytes) -> bool:
    """Overwrite the reserved spare in place (padded with spaces to its size); False if it won't do."""
    try:
        fd = os.open(spare, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        size = os.fstat(fd).st_size
        if size < len(data):
            return False
        os.pwrite(fd, data + b" " * (size - len(data)), 0)  # JSON allows trailing white space
        os.fsync(fd)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _reserve_spare(spare: Path, size: int) -> None:
    """Best effort: a new spare of ``size`` bytes with its blocks reserved, or none at all."""
    try:
        fd = os.open(spare, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError:
        return
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError:
        os.close(fd)
        spare.unlink(missing_ok=True)
        return
    os.close(fd)


def write_manifest(path: Path, manifest: Manifest, *, spare: Path, temp_prefix: str) -> None:
    """Replace the manifest atomically: readers and a kill see the old one or the new one.

    The text goes into the reserved spare when it fits (no new block needed), otherwise a
    new temp file; after the rename a new spare is reserved in the space the old manifest
    freed. ENOSPC is DiskFullError, with the old manifest still in place.
    """
    data = (json.dumps(manifest_payload(manifest), indent=2, sort_keys=True, allow_nan=False) + "\n").encode("utf-8")
    source = spare
    if not _write_into_spare(spare, data):
        spare.unlink(missing_ok=True)
        source = path.parent / f"{temp_prefix}{os.urandom(4).hex()}.tmp"
        try:
            fd = os.open(source, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            source.unlink(missing_ok=True)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise DiskFullError("no space left to write the manifest", str(path)) from exc
            raise
    old_size = path.stat().st_size if path.exists() else 0
    os.replace(source, path)
    _fsync_directory(path.parent)
    _reserve_spare(spare, max(_SPARE_MIN_BYTES, old_size, 2 * len(data)))


def remove_manifest(path: Path, *, spare: Path) -> None:
    """Delete the manifest (and its spare); durable before any grid file it listed is deleted."""
    path.unlink(missing_ok=True)
    spare.unlink(missing_ok=True)
    _fsync_directory(path.parent)
