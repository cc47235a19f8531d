"""Memmap-only bad input: a directory that cannot hold grid files is a typed error, and nothing is written."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest

from farm_grids import MemmapStore, StorageDirectoryError

from farm_grids.testing import snapshot_arrays, snapshot_directory, temp_files_in

_IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
NEEDS_PROC = pytest.mark.skipif(
    not Path("/proc/self").is_dir(), reason="needs Linux /proc (a place even root cannot write)"
)
NOT_ROOT = pytest.mark.skipif(_IS_ROOT, reason="root writes through chmod 0o500; the /proc cases cover root")

# (id, the directory given relative to the test's root, the text the message must name)
DIRECTORIES: list[object] = [
    pytest.param(lambda root: Path("/proc"), "/proc", id="dir-proc", marks=NEEDS_PROC),
    pytest.param(lambda root: Path("/proc/farm-grids/x"), "/proc/farm-grids/x", id="dir-under-proc", marks=NEEDS_PROC),
    pytest.param(lambda root: root / "locked", "locked", id="dir-chmod-500", marks=NOT_ROOT),
    pytest.param(lambda root: root / "plain-file", "plain-file", id="dir-is-file"),
    pytest.param(lambda root: root / "plain-file" / "sub", "plain-file", id="dir-under-file"),
]


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    """A live store's directory beside a plain file and a directory no one may write."""
    (tmp_path / "plain-file").write_text("I am a file, not a directory")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    yield tmp_path
    locked.chmod(0o700)


@pytest.mark.parametrize(("directory", "names"), DIRECTORIES)
def test_an_unusable_directory_is_refused_and_changes_nothing(
    root: Path, directory: Callable[[Path], Path], names: str
) -> None:
    with MemmapStore(root / "grids") as live:
        live.create("a", (4, 5))
        live.write("a", np.arange(20, dtype=np.float32).reshape(4, 5) - 7.5)
        live.flush()
        arrays_before, files_before = snapshot_arrays(live), snapshot_directory(root)
        with pytest.raises(StorageDirectoryError) as raised:
            MemmapStore(directory(root))
        assert isinstance(raised.value, PermissionError), type(raised.value).__mro__
        assert names in str(raised.value), str(raised.value)
        assert snapshot_arrays(live) == arrays_before
        assert snapshot_directory(root) == files_before
        assert temp_files_in(root) == []
        live.close_all(delete_files=True)
