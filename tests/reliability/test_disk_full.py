"""Item 5: on a full (real tmpfs) disk every dense write is a DiskFullError, never SIGBUS; the store stays whole."""

from __future__ import annotations

import errno
import json
import os
import signal
import warnings
from pathlib import Path

import pytest

from farm_grids.errors import DiskFullError, InvalidGridSpecError, SparseOvercommitWarning
from farm_grids.stores import MemmapStore
from farm_grids.stores.memmap.locks import READER_BYTE, WRITER_BYTE, is_held

from .helpers import FILL_DISK_CODE, fill_disk, run_child, tree_state

# The child builds a store on the tmpfs, fills the disk to the last byte, tries one operation,
# then checks on the still-full disk that the store and manifest are whole and that close,
# close(delete_file=True) and close_all work; then frees the disk and reopens. A SIGBUS kills
# the child, which the parent sees as its return code.
CHILD = FILL_DISK_CODE + r"""
import json, os, sys
from pathlib import Path
import numpy as np
from farm_grids.errors import DiskFullError
from farm_grids.stores import MemmapStore

directory, op = Path(sys.argv[1]), sys.argv[2]
store = MemmapStore(directory)
store.create("sparse", (256, 256))             # 256 KiB, no block yet
store.add_at("sparse", 0, 0, 7.0)               # reserves (and writes) the first block only
store.create("dense", (32, 32), fill=3.0)       # reserved and written before the disk fills
store.create("extra", (8, 8), fill=1.0)
store.flush()
manifest = store.manifest_path
manifest_before = manifest.read_bytes()
names_before = sorted(store.names())
filler = fill_disk(directory)
report = {"free_after_fill": os.statvfs(directory).f_bavail}

mask = np.zeros((4, 4), dtype=bool)
mask[2, 3] = True
OPS = {
    "fill": lambda: store.fill("sparse", 1.0),
    "write": lambda: store.write("sparse", np.ones((256, 256), np.float32)),
    "create_fill": lambda: store.create("new", (128, 128), fill=2.0),
    "add_many": lambda: store.add_many("sparse", [0, 255], [0, 255], [1.0, 2.0]),
    "add_at": lambda: store.add_at("sparse", 200, 200, 1.0),
    "scale": lambda: store.scale("sparse", 2.0),
    "region_fill": lambda: store.fill("sparse", 5.0, region=(slice(100, 140), slice(None))),
    "region_scale": lambda: store.scale("sparse", 2.0, region=(slice(0, 256), slice(0, 200))),
    "scale_tiles": lambda: store.scale_tiles("sparse", mask, 64, 0.5),
}
try:
    OPS[op]()
    report["raised"] = None
except DiskFullError as exc:
    report.update(raised="DiskFullError", errno=exc.errno, oserror=isinstance(exc, OSError))
except Exception as exc:
    report.update(raised=type(exc).__name__, message=str(exc))

# Still full: the store is as it was and every way of closing works.
report["registered"] = sorted(store.names())
report["names_before"] = names_before
report["new_files"] = sorted(p.name for p in directory.iterdir() if p.name.startswith("new"))
report["manifest_unchanged"] = manifest.read_bytes() == manifest_before
report["dense_ok"] = bool((store.get("dense") == 3.0).all())
report["corner"] = float(store.get_window("sparse", 0, 1, 0, 1)[0, 0])  # a reserved block reads
with MemmapStore.open(manifest, "r") as reader:
    report["reader_names"] = sorted(reader.names())
store.close("dense")
store.close("extra", delete_file=True)
report["extra_file_gone"] = not any(p.name.startswith("extra") for p in directory.iterdir())
store.close_all()
report["closed"] = store.closed

os.unlink(filler)  # free the disk: now every byte may be checked
with MemmapStore.open(manifest, "r+") as again:
    report["reopened"] = sorted(again.names())
    report["clean"] = again.store_info().clean
    sparse = np.array(again.get("sparse"))
    report["sparse_sum"] = float(sparse.sum())
    report["sparse_corner"] = float(sparse[0, 0])
    report["dense_after"] = bool((again.get("dense") == 3.0).all())
print(json.dumps(report))
"""

DENSE_WRITES = ("fill", "write", "create_fill", "add_many", "add_at", "scale", "region_fill", "region_scale", "scale_tiles")


def run_on_full_disk(code: str, directory: Path, op: str) -> dict[str, object]:
    done = run_child(code, str(directory), op, address_space=None)
    assert done.returncode not in (-signal.SIGBUS, 128 + signal.SIGBUS), f"SIGBUS on a full disk ({op})\n{done.explain()}"
    assert done.returncode == 0, done.explain()
    return json.loads(done.stdout)


@pytest.mark.parametrize("op", DENSE_WRITES)
def test_dense_write_on_a_full_disk_is_disk_full_error(tmpfs: Path, op: str) -> None:
    report = run_on_full_disk(CHILD, tmpfs / "store", op)
    assert report["free_after_fill"] == 0
    assert report["raised"] == "DiskFullError", report
    assert report["errno"] == errno.ENOSPC and report["oserror"] is True
    # No grid half-made, nothing changed, the manifest untouched and still readable.
    assert report["registered"] == report["names_before"] == ["dense", "extra", "sparse"]
    assert report["new_files"] == []
    assert report["manifest_unchanged"] is True
    assert report["dense_ok"] is True and report["corner"] == 7.0
    assert report["reader_names"] == ["dense", "extra", "sparse"]
    # close, close(delete_file=True) and close_all all worked on the full disk.
    assert report["extra_file_gone"] is True and report["closed"] is True
    assert report["reopened"] == ["dense", "sparse"] and report["clean"] is True
    assert report["sparse_sum"] == 7.0 and report["sparse_corner"] == 7.0  # not one cell written
    assert report["dense_after"] is True


READS = FILL_DISK_CODE + r"""
import json, sys
from pathlib import Path
import numpy as np
from farm_grids.errors import DiskFullError
from farm_grids.stores import MemmapStore

directory, who = Path(sys.argv[1]), sys.argv[2]
writer = MemmapStore(directory)
writer.create("sparse", (256, 256))
writer.add_at("sparse", 0, 0, 7.0)
writer.flush()
fill_disk(directory)
store = writer if who == "writer" else MemmapStore.open(writer.manifest_path, "r")
results = {}
READS = {
    "window_hole": lambda: store.get_window("sparse", 120, 130, 120, 140),
    "window_edge": lambda: store.get_window("sparse", 250, 260, -5, 5),
    "windows": lambda: store.get_windows("sparse", [100, 200, 255], [100, 30, 255], 4),
    "cells": lambda: store.get_cells("sparse", [150, 250], [150, 3]),
    "reserved_block": lambda: store.get_window("sparse", 0, 2, 0, 2),
}
for name, read in READS.items():
    try:
        values = read()
        results[name] = {"sum": float(np.asarray(values, dtype=np.float64).sum())}
    except DiskFullError as exc:
        results[name] = {"raised": "DiskFullError", "errno": exc.errno}
    except Exception as exc:
        results[name] = {"raised": type(exc).__name__, "message": str(exc)}
print(json.dumps(results))
"""


@pytest.mark.parametrize("who", ["writer", "reader"])
def test_reading_holes_on_a_full_tmpfs_never_sigbus(tmpfs: Path, who: str) -> None:
    """On tmpfs a read of a hole allocates a page: reads must reserve first (or refuse)."""
    results = run_on_full_disk(READS, tmpfs / "store", who)
    for name, outcome in results.items():
        if name == "reserved_block":
            assert outcome == {"sum": 7.0}
        else:  # zeros, or a typed refusal
            assert outcome in ({"sum": 0.0}, {"raised": "DiskFullError", "errno": errno.ENOSPC}), (name, outcome)


def test_a_sparse_grid_larger_than_the_free_space_warns(tmpfs: Path) -> None:
    store = MemmapStore(tmpfs / "store")
    try:
        with pytest.warns(SparseOvercommitWarning, match="DiskFullError"):
            grid = store.create("huge", (2048, 2048))  # 16 MiB on a 4 MiB tmpfs
        assert "huge" in store and grid.shape == (2048, 2048)
        store.add_at("huge", 5, 5, 1.0)  # a few cells fit
        assert store.get_window("huge", 5, 6, 5, 6)[0, 0] == 1.0
        with warnings.catch_warnings():
            warnings.simplefilter("error", SparseOvercommitWarning)
            store.create("small", (64, 64))  # fits: no warning
    finally:
        store.close_all(delete_files=True)


def test_preallocate_refuses_a_grid_that_does_not_fit_and_leaves_no_file(tmpfs: Path) -> None:
    directory = tmpfs / "store"
    store = MemmapStore(directory, preallocate=True)
    try:
        store.create("fits", (64, 64), fill=1.0)
        manifest = store.manifest_path.read_bytes()
        with pytest.raises(DiskFullError) as caught:
            store.create("huge", (2048, 2048))
        assert caught.value.errno == errno.ENOSPC
        assert store.names() == ["fits"]
        assert not [p for p in directory.iterdir() if p.name.startswith("huge")]
        assert store.manifest_path.read_bytes() == manifest
        assert (store.get("fits") == 1.0).all()
    finally:
        store.close_all(delete_files=True)
    assert sorted(p.name for p in directory.iterdir()) == []


def test_a_preallocated_store_never_hits_enospc_mid_write(tmpfs: Path) -> None:
    directory = tmpfs / "store"
    code = FILL_DISK_CODE + r"""
import sys
import numpy as np
from farm_grids.stores import MemmapStore
store = MemmapStore(sys.argv[1], preallocate=True)
store.create("g", (256, 256))
fill_disk(sys.argv[1])
store.fill("g", 2.0)
store.write("g", np.full((256, 256), 3.0, np.float32))
store.add_many("g", [0, 255], [0, 255], 1.0)
store.scale("g", 2.0)
print(float(store.get("g").sum()))
"""
    done = run_child(code, str(directory), address_space=None)
    assert done.returncode == 0, done.explain()
    assert float(done.stdout) == 256 * 256 * 6.0 + 4.0


LIFECYCLE = FILL_DISK_CODE + r"""
import json, os, sys
from pathlib import Path
from farm_grids.errors import DiskFullError
from farm_grids.stores import MemmapStore

directory = Path(sys.argv[1])
store = MemmapStore(directory)
store.create("first", (64, 64), fill=1.0)
manifest = store.manifest_path
filler = fill_disk(directory)
steps = []
def attempt(label, call):
    try:
        call()
        steps.append([label, "ok"])
    except DiskFullError:
        steps.append([label, "DiskFullError"])
    except Exception as exc:
        steps.append([label, f"{type(exc).__name__}: {exc}"])
for i in range(6):  # sparse creates and deletes, each rewriting the manifest on the full disk
    attempt(f"create s{i}", lambda: store.create(f"s{i}", (512, 512)))
    if i % 2 and f"s{i - 1}" in store:
        attempt(f"delete s{i - 1}", lambda: store.close(f"s{i - 1}", delete_file=True))
attempt("close first", lambda: store.close("first"))
registered = sorted(store.names())
attempt("close_all", store.close_all)
os.unlink(filler)
with MemmapStore.open(manifest, "r") as again:
    listed = sorted(again.names())
dat = sorted(p.name.split("_p")[0] for p in directory.iterdir() if p.suffix == ".dat")
print(json.dumps({"steps": steps, "registered": registered, "listed": listed, "dat": dat}))
"""


def test_sparse_creates_deletes_and_closes_on_a_full_disk_stay_consistent(tmpfs: Path) -> None:
    report = run_on_full_disk(LIFECYCLE, tmpfs / "store", "lifecycle")
    outcomes = dict(report["steps"])
    for label, outcome in report["steps"]:
        allowed = ("ok", "DiskFullError") if label.startswith("create") else ("ok",)
        assert outcome in allowed, (label, outcome, report["steps"])
    assert outcomes["close first"] == "ok" and outcomes["close_all"] == "ok"
    # The manifest lists exactly the grids the store held (plus the one closed with its file
    # kept), and every grid file on disk is listed: no orphan from a refused create.
    assert report["listed"] == sorted({*report["registered"], "first"})
    assert report["dat"] == report["listed"]


def use_every_inode(directory: Path) -> list[Path]:
    """Empty files in ``directory`` until the file system has no inode left; returns them."""
    fillers = []
    while True:
        try:
            fillers.append(directory / f"filler{len(fillers)}")
            fillers[-1].touch()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
            fillers.pop()
            return fillers


def test_no_inode_left_for_a_grid_file_is_a_disk_full_error(tmpfs_few_inodes: Path) -> None:
    """ENOSPC when the grid file itself cannot be created (no inode left): typed and named, nothing changed.
    Nothing is mapped, so this runs in the test process."""
    store = MemmapStore(tmpfs_few_inodes / "store")
    store.create("a", (8, 8), fill=1.0)  # the directory, lock file, manifest and spare take inodes too
    fillers = use_every_inode(tmpfs_few_inodes)
    with pytest.raises(DiskFullError, match="no space left to create the grid file") as caught:
        store.create("b", (8, 8))
    assert caught.value.errno == errno.ENOSPC
    assert store.names() == ["a"] and float(store.read("a").sum()) == 64.0
    for filler in fillers:
        filler.unlink()
    store.close_all()


def test_a_grid_file_beyond_the_file_size_limit_is_refused_by_name(tmp_path: Path) -> None:
    """EFBIG (here from RLIMIT_FSIZE, as from a filesystem's size limit) is an InvalidGridSpecError naming
    the file, and no file is left behind."""
    import resource

    store = MemmapStore(tmp_path / "store")
    store.create("small", (4, 4))
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of the signal
    try:
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, hard))
        with pytest.raises(InvalidGridSpecError, match="the file would exceed the filesystem's size limit") as caught:
            store.create("big", (1024, 1024))  # 4 MiB
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    assert str(tmp_path / "store") in str(caught.value)
    assert store.names() == ["small"]
    assert not [p for p in (tmp_path / "store").iterdir() if p.suffix == ".dat" and "big" in p.name]
    store.close_all(delete_files=True)


def descriptors_under(directory: Path) -> list[str]:
    """What this process holds open below ``directory`` (an open one makes ``umount`` say busy)."""
    held = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(directory) + os.sep):
            held.append(target)
    return held


def test_a_full_disk_at_a_stores_first_grid_is_disk_full_error_and_leaves_nothing(tmpfs: Path) -> None:
    """No block left for the lock record: DiskFullError, the lock's descriptor closed, its file removed.
    Nothing is mapped, so this runs in the test process."""
    directory = tmpfs / "store"
    directory.mkdir()
    (directory / "notes.txt").write_text("not ours")
    filler = Path(fill_disk(tmpfs))
    store = MemmapStore(directory)
    before = tree_state(tmpfs)
    with pytest.raises(DiskFullError) as caught, pytest.warns(SparseOvercommitWarning) as warned:
        store.create("A", (64, 64), fill=1.0)
    assert caught.value.errno == errno.ENOSPC and str(directory) in str(caught.value)
    assert warned[0].filename == __file__  # the warning names the caller's line
    assert descriptors_under(tmpfs) == []
    assert tree_state(tmpfs) == before  # our lock file gone, the user's file and the filler untouched
    assert store.names() == []
    filler.unlink()
    store.create("A", (64, 64), fill=1.0)  # with room again the same store works
    assert float(store.read("A").sum()) == 64 * 64
    store.close_all(delete_files=True)
    assert descriptors_under(tmpfs) == []


def test_no_inode_for_a_stores_first_grid_file_releases_its_lock(tmpfs_few_inodes: Path) -> None:
    """The lock file took the last inode and the grid file gets none: DiskFullError, no lock held or left."""
    directory = tmpfs_few_inodes / "store"
    directory.mkdir()
    fillers = use_every_inode(tmpfs_few_inodes)
    fillers.pop().unlink()  # one inode left: the lock file's
    store = MemmapStore(directory)
    before = tree_state(tmpfs_few_inodes)
    with pytest.raises(DiskFullError, match="no space left to create the grid file"):
        store.create("A", (8, 8), fill=1.0)
    assert descriptors_under(tmpfs_few_inodes) == []
    assert tree_state(tmpfs_few_inodes) == before
    for filler in fillers:
        filler.unlink()
    store.create("A", (8, 8), fill=1.0)
    store.close_all(delete_files=True)
    assert descriptors_under(tmpfs_few_inodes) == []


CRASHED_READER = r"""
import os, sys
from farm_grids.stores import MemmapStore
MemmapStore.open(sys.argv[1], "r")
os._exit(0)
"""


def test_a_full_disk_at_reopen_keeps_a_lock_file_it_did_not_make(tmpfs: Path) -> None:
    """A crashed reader left an empty lock file: a writer whose record cannot be written leaves it as it was."""
    store = MemmapStore(tmpfs / "store")
    store.create("A", (16, 16), fill=1.0)
    manifest = store.manifest_path
    store.close_all()
    crashed = run_child(CRASHED_READER, str(manifest))
    assert crashed.returncode == 0, crashed.explain()
    lock = manifest.with_name(manifest.name + ".lock")
    assert lock.exists() and lock.stat().st_size == 0 and not is_held(lock, READER_BYTE)
    filler = Path(fill_disk(tmpfs))
    before = tree_state(tmpfs)
    with pytest.raises(DiskFullError):
        MemmapStore.open(manifest, "r+")
    assert tree_state(tmpfs) == before and not is_held(lock, WRITER_BYTE)
    assert descriptors_under(tmpfs) == []
    filler.unlink()
    with MemmapStore.open(manifest, "r+") as again:
        assert float(again.read("A").sum()) == 256.0
