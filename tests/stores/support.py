"""Shared helpers for the store tests: hypothesis profiles, naive references, subprocesses."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from hypothesis import settings

import farm_grids
from farm_grids.stores import SUPPORTED_DTYPES, GridStore

__all__ = [
    "ALL_DTYPES",
    "evict_from_page_cache",
    "fresh_name",
    "store_directory",
    "IN_CI",
    "PROPERTY_SETTINGS",
    "WINDOW_SETTINGS",
    "TEMP_FILE_MARKERS",
    "naive_window",
    "padded_windows_reference",
    "random_grid",
    "run_python",
    "signed",
    "python_env",
    "snapshot_arrays",
    "snapshot_directory",
    "temp_files_in",
]

IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")

# The main window properties run >= 2,000 examples in CI; locally a few hundred keep the
# edit-test loop short. Deadlines are off: memmap examples touch the filesystem.
# A mutation run (FARM_MUTATION=1, see TESTING.md) runs the tests once per mutant: few examples each,
# the edge-exact @examples always.
IN_MUTATION_RUN = os.environ.get("FARM_MUTATION", "") == "1"
settings.register_profile("farm-grids-ci", max_examples=2000, deadline=None, print_blob=True)
settings.register_profile("farm-grids-dev", max_examples=200, deadline=None)
settings.register_profile("farm-grids-mutation", max_examples=20, deadline=None, database=None)
WINDOW_SETTINGS = settings.get_profile(
    "farm-grids-mutation" if IN_MUTATION_RUN else "farm-grids-ci" if IN_CI else "farm-grids-dev")
# Secondary properties (add_many and friends) need fewer examples to be convincing.
PROPERTY_SETTINGS = settings(max_examples=10 if IN_MUTATION_RUN else 300 if IN_CI else 100, deadline=None,
                             database=None if IN_MUTATION_RUN else settings.default.database)

ALL_DTYPES: tuple[str, ...] = tuple(sorted(SUPPORTED_DTYPES))
REPO_ROOT = Path(farm_grids.__file__).resolve().parents[1]
TEMP_FILE_MARKERS = (".tmp", ".farm-grids-probe-", ".manifest-")


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


def signed(payload: dict) -> dict:
    """``payload`` with the checksum a manifest carries recomputed, so an edited manifest
    is self-consistent and reaches the file checks (the format's rule, written out here)."""
    body = {key: value for key, value in payload.items() if key != "checksum"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return {**body, "checksum": "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()}


def snapshot_arrays(store: GridStore) -> dict[str, bytes]:
    """Every grid's bytes (through ``read``, which every backend has), to prove a failed call changed nothing."""
    return {name: store.read(name).tobytes() for name in store.names()}


_names = itertools.count()


def fresh_name() -> str:
    """A grid name no other example of the run has used (hypothesis reuses one store per test)."""
    return f"p{next(_names)}"


def store_directory(store: GridStore) -> Path | None:
    """The directory a file-backed store keeps its grids in (from a grid's public path)."""
    for name in store.names():
        path = store.info(name).path
        if path is not None:
            return path.parent
    return None


def snapshot_directory(directory: Path) -> dict[str, str]:
    """Every file below ``directory`` (relative name -> sha256 of its content)."""
    if not directory.exists():
        return {}
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def temp_files_in(directory: Path) -> list[str]:
    """Names of leftover temporary files (manifest temp files or write probes).

    A live store's reserved manifest spare (``.spare``) is part of the store, not a leftover.
    """
    return sorted(
        path.name
        for path in directory.rglob("*")
        if any(marker in path.name for marker in TEMP_FILE_MARKERS) and not path.name.endswith(".spare")
    )


def python_env() -> dict[str, str]:
    """The environment for a child interpreter that must import this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    return env


def run_python(code: str, *args: str, timeout: float = 60.0) -> str:
    """Run ``code`` in a fresh interpreter and return its stdout; fail with its stderr."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=python_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"child failed ({done.returncode}):\n{done.stderr}"
    return done.stdout


def evict_from_page_cache(path: Path) -> None:
    """Drop the file's clean pages from the page cache (nothing may map it now)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
