"""Items 7, 10: SIGKILL at random points of create, write, flush, delete and close_all loses nothing flushed."""

from __future__ import annotations

import os
import signal
import time
import traceback
import warnings
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest

from farm_grids.errors import UncleanShutdownWarning
from farm_grids.stores import MemmapStore, cleanup_stale

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork and SIGKILL")

TRIALS = 20
SEED = 20240611
SHM = Path("/dev/shm")

Say = Callable[[str], None]


class Trial:
    """One forked child running ``body``; the parent SIGKILLs it ``delay`` s after it says 'ready'.

    The child reports progress with one line per completed step (os.write on a pipe, so
    every line written before the kill reaches the parent).
    """

    def __init__(self, body: Callable[[Path, Say], None], directory: Path) -> None:
        self.directory = directory
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never return into pytest
            os.close(read_end)
            code = 0
            try:
                body(directory, lambda line: os.write(write_end, (line + "\n").encode()))
            except BaseException:
                os.write(write_end, ("error " + traceback.format_exc().replace("\n", " | ") + "\n").encode())
                code = 1
            os._exit(code)
        os.close(write_end)
        self.pid = pid
        self.stream = os.fdopen(read_end, "rb")
        self.lines: list[str] = []

    def wait_ready(self) -> None:
        line = self.stream.readline().decode().strip()
        assert line == "ready", f"child did not get ready: {line!r}"

    def kill_after(self, delay: float) -> None:
        time.sleep(delay)
        os.kill(self.pid, signal.SIGKILL)
        self.finish()

    def finish(self) -> None:
        os.waitpid(self.pid, 0)
        self.lines = [line.strip() for line in self.stream.read().decode().splitlines()]
        self.stream.close()
        errors = [line for line in self.lines if line.startswith("error")]
        assert not errors, errors[0]


def reopen_after_kill(manifest: Path) -> MemmapStore:
    """Reopen r+; a killed writer's store must say it was not closed cleanly."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        store = MemmapStore.open(manifest, "r+")
    assert any(issubclass(w.category, UncleanShutdownWarning) for w in caught), "no UncleanShutdownWarning"
    assert store.store_info().clean is False
    return store


def the_manifest(directory: Path) -> Path | None:
    found = [p for p in directory.iterdir() if p.name.startswith("manifest") and p.name.endswith(".json")]
    assert len(found) <= 1, found
    return found[0] if found else None


def close_and_clean(store: MemmapStore, directory: Path) -> None:
    """Close the recovered store, then cleanup_stale must leave nothing behind."""
    store.close_all()
    cleanup_stale(directory)
    assert sorted(p.name for p in directory.iterdir()) == []


@pytest.fixture(params=["disk", "tmpfs"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """Where the stores live: the real disk, or /dev/shm (tmpfs, where reads reserve too)."""
    if request.param == "disk":
        yield tmp_path
        return
    if not SHM.is_dir() or not os.access(SHM, os.W_OK):
        pytest.skip("/dev/shm is not a writable tmpfs here")
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="farm-grids-sigkill-", dir=SHM))
    try:
        yield root
    finally:
        import shutil

        shutil.rmtree(root, ignore_errors=True)


def trial_dirs(location: Path, phase: str) -> Iterator[tuple[int, Path]]:
    for index in range(TRIALS):
        directory = location / f"{phase}-{index}"
        directory.mkdir()
        yield index, directory


# -- create ---------------------------------------------------------------------------------


def creating(directory: Path, say: Say) -> None:
    store = MemmapStore(directory)
    store.create("g0", (16, 16), fill=1.0)
    say("ready")
    for i in range(1, 100_000):
        store.create(f"g{i}", (16, 8 + i % 5), dtype=("float32", "int32", "float64")[i % 3], fill=i + 1)
        say(f"created {i}")


def test_sigkill_during_create(location: Path) -> None:
    rng = np.random.default_rng(SEED)
    for _, directory in trial_dirs(location, "create"):
        trial = Trial(creating, directory)
        trial.wait_ready()
        trial.kill_after(rng.uniform(0.0, 0.05))
        created = [int(line.split()[1]) for line in trial.lines if line.startswith("created")]
        store = reopen_after_kill(the_manifest(directory))
        names = set(store.names())
        assert {f"g{i}" for i in [0, *created]} <= names, f"created grids lost: {created} vs {names}"
        for name in names:  # every grid the manifest lists was created (and filled) whole
            i = int(name[1:])
            assert (store.get(name) == i + 1).all(), name
        close_and_clean(store, directory)


# -- write ----------------------------------------------------------------------------------


def writing(directory: Path, say: Say) -> None:
    store = MemmapStore(directory)
    store.create("w", (64, 64))
    store.create("v", (32, 32), dtype="int32")
    store.flush()
    ys, xs = np.divmod(np.arange(32 * 32), 32)
    say("ready")
    for k in range(1, 100_000):
        store.write("w", np.full((64, 64), k, dtype=np.float32))
        store.add_many("v", ys, xs, 1)
        say(f"wrote {k}")
        store.flush()
        say(f"flushed {k}")


def check_generations(store: MemmapStore, lines: list[str], names: tuple[str, ...]) -> None:
    """After 'wrote k' every cell is k; after 'flushed k' each is k or (torn) k + 1."""
    wrote = [int(line.split()[1]) for line in lines if line.startswith("wrote")]
    flushed = [int(line.split()[1]) for line in lines if line.startswith("flushed")]
    last = wrote[-1] if wrote else 0
    allowed = {last, last + 1} if (flushed and flushed[-1] == last) or not wrote else {last}
    for name in names:
        seen = set(np.unique(store.get(name)).tolist())
        assert seen <= allowed, f"{name}: cells {sorted(seen)[:6]}, allowed {sorted(allowed)} after {lines[-2:]}"


def test_sigkill_during_write(location: Path) -> None:
    rng = np.random.default_rng(SEED + 1)
    for _, directory in trial_dirs(location, "write"):
        trial = Trial(writing, directory)
        trial.wait_ready()
        trial.kill_after(rng.uniform(0.0, 0.05))
        store = reopen_after_kill(the_manifest(directory))
        check_generations(store, trial.lines, ("w", "v"))
        close_and_clean(store, directory)


# -- flush ----------------------------------------------------------------------------------


def flushing(directory: Path, say: Say) -> None:
    store = MemmapStore(directory)
    store.create("f", (512, 512))  # 1 MiB: msync dominates each step
    store.create("r", (64, 64), dtype="float64")
    store.flush()
    say("ready")
    for k in range(1, 100_000):
        store.fill("f", float(k))
        store.fill("r", float(k), region=(slice(None), slice(None)))
        say(f"wrote {k}")
        store.flush("f")
        store.flush("r")
        say(f"flushed {k}")


def test_sigkill_during_flush(location: Path) -> None:
    rng = np.random.default_rng(SEED + 2)
    for _, directory in trial_dirs(location, "flush"):
        trial = Trial(flushing, directory)
        trial.wait_ready()
        trial.kill_after(rng.uniform(0.0, 0.06))
        store = reopen_after_kill(the_manifest(directory))
        check_generations(store, trial.lines, ("f", "r"))
        close_and_clean(store, directory)


# -- deleting grids one by one, and close_all(delete_files=True) ------------------------------

def grid_count(directory: Path) -> int:
    """8 grids on disk (msync makes each close slow); 32 on tmpfs, so the window stays wide."""
    return 32 if str(directory).startswith(str(SHM)) else 8


def seeded_store(directory: Path) -> MemmapStore:
    # Not flushed: each close flushes its grid first, so the kill window spans real msyncs.
    store = MemmapStore(directory)
    for i in range(grid_count(directory)):
        store.create(f"g{i}", (8, 8 + i), fill=i + 1)
    return store


def deleting(directory: Path, say: Say) -> None:
    store = seeded_store(directory)
    say("ready")
    start = time.perf_counter()
    for i in range(grid_count(directory) - 1):  # the last grid stays: the manifest must go on listing it
        store.close(f"g{i}", delete_file=True)
        say(f"deleted {i}")
    say(f"done {time.perf_counter() - start}")


def closing(directory: Path, say: Say) -> None:
    store = seeded_store(directory)
    say("ready")
    start = time.perf_counter()
    store.close_all(delete_files=True)
    say(f"done {time.perf_counter() - start}")


def calibrate(body: Callable[[Path, Say], None], directory: Path) -> float:
    """How long the unkilled step takes in the child (the window the kills fall in)."""
    trial = Trial(body, directory)
    trial.wait_ready()
    trial.finish()
    assert trial.lines[-1].startswith("done")
    return float(trial.lines[-1].split()[1])


def check_listed_grids_intact(directory: Path, lines: list[str]) -> None:
    """The manifest (if any) names only files that exist; every grid it lists holds its values."""
    manifest = the_manifest(directory)
    deleted = {f"g{line.split()[1]}" for line in lines if line.startswith("deleted")}
    if manifest is None:
        cleanup_stale(directory)
        assert sorted(p.name for p in directory.iterdir()) == []
        return
    store = reopen_after_kill(manifest)
    assert not deleted & set(store.names()), "the manifest lists a grid whose delete completed"
    for name in store.names():
        i = int(name[1:])
        np.testing.assert_array_equal(store.get(name), np.full((8, 8 + i), i + 1, np.float32))
    close_and_clean(store, directory)


@pytest.mark.parametrize("body", [deleting, closing], ids=["close_delete_file", "close_all_delete_files"])
def test_sigkill_during_delete(location: Path, body: Callable[[Path, Say], None]) -> None:
    rng = np.random.default_rng(SEED + 3)
    windows = []
    for run in range(2):  # the first run may be cold: the shorter one is the window
        calibration = location / f"calibration{run}"
        calibration.mkdir()
        windows.append(calibrate(body, calibration))
        assert the_manifest(calibration) is None if body is closing else the_manifest(calibration) is not None
    window = min(windows)
    for _, directory in trial_dirs(location, body.__name__):
        trial = Trial(body, directory)
        trial.wait_ready()
        trial.kill_after(rng.uniform(0.0, 1.2 * window))
        check_listed_grids_intact(directory, trial.lines)
