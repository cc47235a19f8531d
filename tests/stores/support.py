"""Helpers of the repository's own store tests: manifests re-signed, child interpreters, page-cache eviction.

The suite's shared helpers (reference values, hypothesis settings, file snapshots) ship in
``farm_grids.testing``; tests import them from there.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import farm_grids

__all__ = ["evict_from_page_cache", "python_env", "run_python", "signed"]

REPO_ROOT = Path(farm_grids.__file__).resolve().parents[1]


def signed(payload: dict) -> dict:
    """``payload`` with the checksum a manifest carries recomputed, so an edited manifest
    is self-consistent and reaches the file checks (the format's rule, written out here)."""
    body = {key: value for key, value in payload.items() if key != "checksum"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return {**body, "checksum": "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()}


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
