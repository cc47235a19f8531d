"""Grid file naming, sparse file creation, the JSON manifest, and stale-file clean-up."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from farm_grids.errors import (
    GridFileMismatchError,
    GridFileMissingError,
    StorageDirectoryError,
)

__all__ = [
    "CleanupReport",
    "MANIFEST_SCHEMA",
    "cleanup_stale",
    "create_sparse_file",
    "grid_file_name",
    "manifest_file_name",
    "parse_grid_file_name",
    "prepare_directory",
    "read_manifest",
    "sanitize_part",
    "write_manifest",
]

MANIFEST_SCHEMA = "farm-grids/manifest/v1"
# Parts may hold '_' (DAMAGE_HEAT); the pid/token/shape suffix is parsed from the right.
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)}
_MAX_PART = 48
_GRID_FILE = re.compile(r"_p(?P<pid>\d+)-(?P<token>[0-9a-f]+)_(?P<h>\d+)x(?P<w>\d+)\.dat$")
_MANIFEST_FILE = re.compile(r"manifest(?:_.+)?_p(?P<pid>\d+)-(?P<token>[0-9a-f]+)\.json$")


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
    *,
    pid: int,
    token: str,
    namespace: str | None = None,
    simulation_id: str | None = None,
) -> str:
    """``[namespace_]name[_simulation_id]_p<pid>-<token>_<H>x<W>.dat``."""
    return f"{_prefix(namespace, name, simulation_id)}_p{pid}-{token}_{shape[0]}x{shape[1]}.dat"


def parse_grid_file_name(file_name: str) -> dict[str, Any] | None:
    """The pid, token and shape embedded in a grid file's name, or None if it has none."""
    match = _GRID_FILE.search(file_name)
    if match is None:
        return None
    return {
        "pid": int(match.group("pid")),
        "token": match.group("token"),
        "shape": (int(match.group("h")), int(match.group("w"))),
    }


def manifest_file_name(
    *, pid: int, token: str, namespace: str | None = None, simulation_id: str | None = None
) -> str:
    return f"{_prefix(namespace, 'manifest', simulation_id)}_p{pid}-{token}.json"


def prepare_directory(directory: str | os.PathLike[str] | None, *, writable: bool) -> Path:
    """Resolve (and create) the storage directory, refusing files and unwritable paths."""
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


def create_sparse_file(path: Path, nbytes: int) -> None:
    """Create ``path`` of ``nbytes`` without touching a page; never overwrite an existing file."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.ftruncate(fd, nbytes)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)


def write_manifest(path: Path, payload: dict[str, Any]) -> None:
    """Write the manifest atomically: readers see the old or the new one, never half."""
    fd, tmp = tempfile.mkstemp(prefix=".manifest-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    manifest = Path(path)
    if not manifest.is_file():
        raise GridFileMissingError(f"manifest {str(manifest)!r} does not exist")
    try:
        payload = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GridFileMismatchError(f"manifest {str(manifest)!r} is not readable JSON: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("schema") != MANIFEST_SCHEMA:
        raise GridFileMismatchError(f"{str(manifest)!r} is not a farm-grids manifest")
    if not isinstance(payload.get("grids"), dict):
        raise GridFileMismatchError(f"manifest {str(manifest)!r} has no 'grids' table")
    return payload


@dataclass(frozen=True)
class CleanupReport:
    """What ``cleanup_stale`` removed from a directory."""

    removed: tuple[Path, ...]
    bytes_freed: int
    kept: int

    def __str__(self) -> str:
        return f"removed {len(self.removed)} stale files ({self.bytes_freed} bytes), kept {self.kept}"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _mapped_files() -> set[Path]:
    """Files any live process maps now: a reopened grid keeps its dead writer's pid in its name."""
    found: set[Path] = set()
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for maps in proc.glob("[0-9]*/maps"):
        try:
            text = maps.read_text()
        except OSError:
            continue  # the process ended or is not ours to read
        for line in text.splitlines():
            parts = line.split(maxsplit=5)
            if len(parts) == 6 and parts[5].endswith(".dat"):
                found.add(Path(parts[5]))
    return found


def _in_use(entry: Path, in_use: set[Path]) -> bool:
    """A grid file some process maps, or a manifest listing one (it is how to reopen them)."""
    if entry.suffix == ".dat":
        return entry.resolve() in in_use
    try:
        grids = read_manifest(entry)["grids"].values()
    except (GridFileMismatchError, GridFileMissingError):
        return False
    return any((entry.parent / str(g.get("path", ""))).resolve() in in_use for g in grids)


def cleanup_stale(directory: str | os.PathLike[str], *, dry_run: bool = False) -> CleanupReport:
    """Remove grid files and manifests whose embedded pid no longer runs.

    Files some live process maps (a reopened run) and manifests listing them are kept.
    ``dry_run`` reports what would be removed and removes nothing.
    """
    root = Path(directory)
    if not root.is_dir():
        raise StorageDirectoryError(f"{str(root)!r} is not a directory")
    removed: list[Path] = []
    freed = 0
    kept = 0
    in_use = _mapped_files()
    for entry in sorted(root.iterdir()):
        match = _GRID_FILE.search(entry.name) or _MANIFEST_FILE.search(entry.name)
        if match is None or not entry.is_file():
            continue
        if _pid_alive(int(match.group("pid"))) or _in_use(entry, in_use):
            kept += 1
            continue
        try:
            size = entry.stat().st_size
            if not dry_run:
                entry.unlink()
        except FileNotFoundError:
            continue  # another cleaner got there first
        removed.append(entry)
        freed += size
    return CleanupReport(removed=tuple(removed), bytes_freed=freed, kept=kept)
