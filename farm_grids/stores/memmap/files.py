"""Grid, manifest and lock file names, and the storage directory."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

from farm_grids.errors import SparseOvercommitWarning, StorageDirectoryError
from farm_grids.names import path_problem

__all__ = [
    "GRID_FILE",
    "MANIFEST_FILE",
    "STORE_TEMP_FILE",
    "grid_file_name",
    "lock_file_name",
    "manifest_file_name",
    "parse_grid_file_name",
    "prepare_directory",
    "sanitize_part",
    "spare_file_name",
    "temp_prefix",
    "warn_if_overcommitted",
]

# Parts may hold '_' (DAMAGE_HEAT); the pid/token/shape suffix is parsed from the right.
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)}
_MAX_PART = 48
# The dtype suffix is optional so files named before it existed still parse.
GRID_FILE = re.compile(
    r"_p(?P<pid>\d+)-(?P<token>[0-9a-f]+)_(?P<h>\d+)x(?P<w>\d+)(?:_(?P<dtype>[a-z]+\d+))?(?:_t(?P<tile>\d+))?\.dat$"
)
MANIFEST_FILE = re.compile(r"manifest(?:_.+)?_p(?P<pid>\d+)-(?P<token>[0-9a-f]+)\.json(?P<lock>\.lock)?$")
STORE_TEMP_FILE = re.compile(r"^\.manifest-p(?P<pid>\d+)-(?P<token>[0-9a-f]+)(?:-[0-9a-f]+\.tmp|\.spare)$")


def sanitize_part(part: str) -> str:
    """Make ``part`` safe on every filesystem; a changed part gets a short hash to stay unique."""
    cleaned = _UNSAFE.sub("-", part).strip(".-_") or "grid"
    if cleaned.upper() in _WINDOWS_RESERVED:
        cleaned = f"x{cleaned}"
    if cleaned != part or len(cleaned) > _MAX_PART:
        digest = hashlib.sha1(part.encode("utf-8")).hexdigest()[:6]
        cleaned = f"{cleaned[:_MAX_PART]}-{digest}"
    return cleaned


def _prefix(namespace: str | None, name: str, simulation_id: str | None) -> str:
    parts = [sanitize_part(namespace)] if namespace else []
    parts.append(sanitize_part(name))
    if simulation_id:
        parts.append(sanitize_part(simulation_id))
    return "_".join(parts)


def grid_file_name(
    name: str,
    shape: tuple[int, int],
    dtype: str,
    *,
    pid: int,
    token: str,
    namespace: str | None = None,
    simulation_id: str | None = None,
    tile: int = 0,
) -> str:
    """``[namespace_]name[_simulation_id]_p<pid>-<token>_<H>x<W>_<dtype>[_t<tile>].dat``.

    Shape, dtype and the tile side of a tile-major file in the name let a reopen catch a
    manifest that misdescribes the file.
    """
    layout = f"_t{tile}" if tile else ""
    return f"{_prefix(namespace, name, simulation_id)}_p{pid}-{token}_{shape[0]}x{shape[1]}_{dtype}{layout}.dat"


def parse_grid_file_name(file_name: str) -> dict[str, Any] | None:
    """The pid, token, shape and dtype (None if unrecorded) in a grid file's name, or None."""
    match = GRID_FILE.search(file_name)
    if match is None:
        return None
    return {
        "pid": int(match.group("pid")),
        "token": match.group("token"),
        "shape": (int(match.group("h")), int(match.group("w"))),
        "dtype": match.group("dtype"),
        "tile": int(match.group("tile")) if match.group("tile") else None,
    }


def manifest_file_name(
    *, pid: int, token: str, namespace: str | None = None, simulation_id: str | None = None
) -> str:
    return f"{_prefix(namespace, 'manifest', simulation_id)}_p{pid}-{token}.json"


def lock_file_name(manifest_name: str) -> str:
    """The lock file beside a manifest (writer: byte 0, readers: byte 1)."""
    return f"{manifest_name}.lock"


def temp_prefix(pid: int, token: str) -> str:
    """Prefix of a store's temporary manifest files: the owner's lock says whether they are stale."""
    return f".manifest-p{pid}-{token}-"


def spare_file_name(pid: int, token: str) -> str:
    return f".manifest-p{pid}-{token}.spare"


def prepare_directory(directory: str | os.PathLike[str] | None, *, writable: bool) -> Path:
    """Resolve (and create) the storage directory, refusing files and unwritable paths."""
    if directory is not None and not isinstance(directory, (str, os.PathLike)):
        raise StorageDirectoryError(f"storage directory must be a path, got {type(directory).__name__} {directory!r}")
    if directory is not None and str(os.fspath(directory)).strip() == "":
        # Path("") is the current directory: refuse it rather than write files there silently.
        raise StorageDirectoryError("storage directory must not be empty (use None for the system temp dir)")
    if directory is not None:
        text = os.fsdecode(os.fspath(directory))
        problem = path_problem(text)
        if problem is not None:  # a NUL, a lone surrogate or an over-long component: typed, before any syscall
            raise StorageDirectoryError(f"storage directory {text[:80]!r} {problem}")
        if "://" in text:  # "s3://b/x" would become a local folder "s3:/b/x" in the working directory
            raise StorageDirectoryError(f"storage directory {text[:80]!r} is a URL: a file store is local "
                                        "(a URL needs a backend that supports one, e.g. zarr)")
    path = Path(tempfile.gettempdir() if directory is None else directory).expanduser()
    if path.exists() and not path.is_dir():
        raise StorageDirectoryError(f"storage directory {str(path)!r} is a file, not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageDirectoryError(f"cannot create storage directory {str(path)!r}: {exc}") from exc
    if writable:
        _probe_writable(path)
    return path.resolve()


def _probe_writable(path: Path) -> None:
    # os.access says yes to root on a read-only mount; only a real file creation is proof.
    try:
        fd, probe = tempfile.mkstemp(prefix=".farm-grids-probe-", dir=path)
    except OSError as exc:
        raise StorageDirectoryError(f"storage directory {str(path)!r} is not writable: {exc}") from exc
    os.close(fd)
    os.unlink(probe)




def warn_if_overcommitted(directory: Path, name: str, nbytes: int) -> None:
    """Warn (SparseOvercommitWarning) when a new sparse grid is larger than the directory's free space."""
    free = shutil.disk_usage(directory).free
    if nbytes > free:
        # Warned, not refused: a sparse grid is meant to be larger than what it holds;
        # dense writes reserve their blocks first, so running out is a DiskFullError.
        warnings.warn(
            f"grid {name!r} is {nbytes} bytes but {directory} has {free} free: writes beyond "
            "the free space will raise DiskFullError (preallocate=True refuses it up front)",
            SparseOvercommitWarning,
            stacklevel=5,  # past allocate_grid and create (the store's, then the contract's): the caller
        )
