"""The one way harness and report outputs reach their names: staged beside them, then renamed in.

A rename replaces whatever entry is at the final name — a symlink included, whose target is
never opened — and a reader never sees a half-written file. Staging stays on the output's
file system, so each rename is atomic.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path


def write_file_atomic(data: bytes, path: str | os.PathLike[str]) -> Path:
    """Write ``data`` to a temp file beside ``path``, fsync it, then rename it to ``path``."""
    target = Path(path)
    fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    return target


@contextlib.contextmanager
def staging_beside(out_dir: str | os.PathLike[str], label: str = "staging") -> Iterator[Path]:
    """A fresh hidden directory in ``out_dir``'s parent (same file system), removed on leaving."""
    out_dir = Path(out_dir)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.{label}-", dir=out_dir.absolute().parent))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def publish(staged: Mapping[str, Path], out_dir: str | os.PathLike[str]) -> list[Path]:
    """Rename each staged file to ``out_dir / name``; if one rename fails, the ones made are undone."""
    out_dir = Path(out_dir)
    moved: list[Path] = []
    try:
        for name, source in staged.items():
            if Path(name).name != name or name in ("", ".", ".."):
                raise ValueError(f"an output name must be a plain file name, got {name!r}")
            os.replace(source, out_dir / name)
            moved.append(out_dir / name)
    except BaseException:
        for path in moved:
            path.unlink(missing_ok=True)
        raise
    return moved
