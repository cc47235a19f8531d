"""Read-only media: an archived store opens read-only and reads; nothing tries to write there untyped."""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from farm_grids.errors import StorageDirectoryError, UncleanShutdownWarning
from farm_grids.stores import MemmapStore
from farm_grids.stores.memmap.cleanup import cleanup_stale

from .helpers import run_child, tree_state

# A writer that dies without closing (its lock file and an unclean manifest stay behind).
CRASHED_WRITER = r"""
import os, sys
from farm_grids.stores import MemmapStore
store = MemmapStore(sys.argv[1], simulation_id="crashed")
store.create("heat", (32, 32), fill=2.0)
store.flush()
print(store.manifest_path, flush=True)
os._exit(0)
"""


def remount(target: Path, mode: str) -> None:
    done = subprocess.run(["mount", "-o", f"remount,{mode}", str(target)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"mount -o remount,{mode} failed: {done.stderr.strip() or done.returncode}")


@pytest.fixture
def archive(tmpfs: Path) -> Iterator[tuple[Path, Path, Path]]:
    """A tmpfs holding a cleanly closed store and a crashed writer's store, remounted read-only.

    Yields (directory, clean manifest, crashed manifest); remounted read-write before the
    tmpfs fixture unmounts it.
    """
    directory = tmpfs / "run"
    store = MemmapStore(directory, simulation_id="clean")
    store.create("heat", (64, 64), fill=1.0)
    store.add_at("heat", 3, 4, 5.0)
    store.create("tiles", (40, 40), dtype="int32")
    manifest = store.manifest_path
    store.close_all()
    crashed = run_child(CRASHED_WRITER, str(directory))
    assert crashed.returncode == 0, crashed.explain()
    remount(tmpfs, "ro")
    try:
        yield directory, manifest, Path(crashed.stdout.strip())
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(tmpfs)], capture_output=True, check=False)


def test_a_store_on_read_only_media_opens_read_only_and_reads(archive: tuple[Path, Path, Path]) -> None:
    directory, manifest, _ = archive
    before = tree_state(directory)
    with MemmapStore.open(manifest, mode="r") as store:
        heat = store.read("heat")
        assert heat[3, 4] == 6.0 and float(heat.sum()) == 64 * 64 + 5.0
        assert store.get_window("heat", 2, 5, 3, 6)[1, 1] == 6.0
        assert float(store.get_windows("heat", [3], [4], 1)[0].sum()) == 9 + 5.0
        assert not store.read("tiles").any()
        assert store.store_info().clean and not store.store_info().writer_active
    assert tree_state(directory) == before


def test_a_crashed_writers_store_on_read_only_media_opens_read_only(archive: tuple[Path, Path, Path]) -> None:
    """Its lock file is still there (a writer died holding it): a shared lock needs only a read-only open."""
    directory, _, crashed = archive
    assert crashed.with_name(crashed.name + ".lock").exists()
    before = tree_state(directory)
    with pytest.warns(UncleanShutdownWarning):
        store = MemmapStore.open(crashed, mode="r")
    with store:
        assert np.array_equal(store.read("heat"), np.full((32, 32), 2.0, dtype=np.float32))
    assert tree_state(directory) == before


def test_writing_on_read_only_media_is_a_typed_error(archive: tuple[Path, Path, Path]) -> None:
    directory, manifest, _ = archive
    before = tree_state(directory)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UncleanShutdownWarning)
        with pytest.raises(StorageDirectoryError):
            MemmapStore.open(manifest, mode="r+")
        with pytest.raises(StorageDirectoryError):
            MemmapStore(directory).create("new", (4, 4))
    assert tree_state(directory) == before


def test_cleanup_stale_on_read_only_media_is_a_typed_error_and_removes_nothing(
    archive: tuple[Path, Path, Path],
) -> None:
    directory, manifest, crashed = archive
    before = tree_state(directory)
    with pytest.raises(StorageDirectoryError, match="read-only") as caught:
        cleanup_stale(directory)
    assert isinstance(caught.value, OSError)
    assert tree_state(directory) == before
    listed = cleanup_stale(directory, dry_run=True)  # what would go is still listed
    assert manifest in listed.removed and crashed in listed.removed
    assert tree_state(directory) == before
