"""Fork safety: a forked child never releases or tidies its parent's store, and refuses to use it."""

from __future__ import annotations

import json
import multiprocessing
import os
import select
import subprocess
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from farm_grids.errors import ForkedStoreError, StoreClosedError, StoreLockedError
from farm_grids.stores import MemmapStore
from farm_grids.stores.memmap.cleanup import cleanup_stale
from farm_grids.stores.memmap.files import lock_file_name
from farm_grids.stores.memmap.locks import WRITER_BYTE, is_held

from .helpers import read_line, run_child, spawn, tree_state

# A second, unrelated process: may it open the store "r+", and what would cleanup_stale remove?
SECOND_PROCESS = r"""
import json, sys
from farm_grids.errors import StoreLockedError
from farm_grids.stores import MemmapStore
from farm_grids.stores.memmap.cleanup import cleanup_stale

manifest = sys.argv[1]
try:
    MemmapStore.open(manifest, "r+").close_all()
    opened = "opened r+"
except StoreLockedError as exc:
    opened = f"refused: {exc}"
report = cleanup_stale(sys.argv[2])
print(json.dumps({"open": opened, "removed": [str(p) for p in report.removed]}))
"""


def second_process(store: MemmapStore) -> dict[str, Any]:
    done = run_child(SECOND_PROCESS, str(store.manifest_path), str(store.directory))
    assert done.returncode == 0, done.explain()
    return json.loads(done.stdout)


def writer_lock_path(store: MemmapStore) -> Path:
    return store.directory / lock_file_name(store.manifest_path.name)


def new_store(directory: Path) -> MemmapStore:
    """The fork-safety reproducer: one flushed 64 x 64 grid of ones."""
    store = MemmapStore(directory, simulation_id="fk")
    store.create("A", (64, 64), fill=1.0)
    store.flush()
    return store


def fork_and_wait(child: Any) -> int:
    """Run ``child()`` in a bare os.fork child (exit 0 if it returns, 1 if it raises); its exit code."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            child()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def assert_still_live(store: MemmapStore, before: dict[str, tuple[str, str]]) -> None:
    """No second writer, nothing removed, the parent still writes and reads its data."""
    outcome = second_process(store)
    assert outcome["open"].startswith("refused"), outcome
    assert f"pid {os.getpid()}" in outcome["open"], outcome
    assert outcome["removed"] == [], outcome
    assert tree_state(store.directory) == before
    store.add_at("A", 0, 0, 1.0)
    assert float(store.read("A").sum()) == 64 * 64 + 1.0


@pytest.fixture
def quiet_fork() -> Any:
    # pytest may run helper threads; fork from a threaded parent is what users do too.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def test_a_child_closing_the_store_keeps_the_parents_lock_and_files(tmp_path: Path, quiet_fork: None) -> None:
    store = new_store(tmp_path)
    before = tree_state(tmp_path)
    assert fork_and_wait(store.close_all) == 0
    assert is_held(writer_lock_path(store), WRITER_BYTE)
    assert_still_live(store, before)
    store.close_all()


# A fresh interpreter whose fork child leaves a ``with`` block and then exits normally, so the
# child's interpreter finalization (garbage collection, atexit) runs too.
NORMAL_EXIT = r"""
import os, sys, warnings
from farm_grids.stores import MemmapStore

store = MemmapStore(sys.argv[1], simulation_id="fk")
store.create("A", (64, 64), fill=1.0)
store.flush()
if os.fork() == 0:
    with store:
        pass
    sys.exit(0)
_, status = os.wait()
print(os.waitstatus_to_exitcode(status), store.manifest_path, flush=True)
sys.stdin.readline()
store.add_at("A", 0, 0, 1.0)
print(float(store.read("A").sum()), flush=True)
store.close_all()
"""


def test_a_child_leaving_a_with_block_and_exiting_normally_tidies_nothing(
    tmp_path: Path, children: list[subprocess.Popen[str]]
) -> None:
    proc = spawn(NORMAL_EXIT, str(tmp_path))
    children.append(proc)
    code, manifest = read_line(proc).split(" ", 1)
    assert code == "0"
    before = tree_state(tmp_path)
    outcome = run_child(SECOND_PROCESS, manifest, str(tmp_path))
    assert outcome.returncode == 0, outcome.explain()
    report = json.loads(outcome.stdout)
    assert report["open"].startswith("refused: store") and f"pid {proc.pid}" in report["open"], report
    assert report["removed"] == [] and tree_state(tmp_path) == before
    assert proc.stdin is not None
    proc.stdin.write("go\n")
    proc.stdin.flush()
    assert read_line(proc) == str(64 * 64 + 1.0)
    assert proc.wait(30) == 0


def test_closing_the_childs_copy_of_the_lock_fd_keeps_the_lock(tmp_path: Path, quiet_fork: None) -> None:
    """The child shares the parent's open file description: closing its copy must not drop the lock."""
    store = new_store(tmp_path)
    lock = writer_lock_path(store)

    def close_every_inherited_descriptor() -> None:
        store.close_all()
        # Every descriptor of the parent's open lock file is closed in the child by now.
        lock_inode = os.stat(lock).st_ino
        for fd in map(int, os.listdir("/proc/self/fd")):
            try:
                if os.fstat(fd).st_ino == lock_inode and os.path.samestat(os.fstat(fd), os.stat(lock)):
                    raise AssertionError(f"the child still holds fd {fd} of the lock file")
            except OSError:
                continue
        assert is_held(lock, WRITER_BYTE)

    assert fork_and_wait(close_every_inherited_descriptor) == 0
    assert is_held(lock, WRITER_BYTE)
    store.close_all()


def test_every_data_operation_in_a_child_is_a_forked_store_error(tmp_path: Path, quiet_fork: None) -> None:
    store = new_store(tmp_path)
    read, write = os.pipe()
    calls = {
        "read": lambda: store.read("A"),
        "get": lambda: store.get("A"),
        "get_window": lambda: store.get_window("A", 0, 4, 0, 4),
        "get_windows": lambda: store.get_windows("A", [1], [1], 1),
        "add_at": lambda: store.add_at("A", 0, 0, 1.0),
        "write": lambda: store.write("A", np.zeros((64, 64), dtype=np.float32)),
        "fill": lambda: store.fill("A", 2.0),
        "create": lambda: store.create("B", (4, 4)),
        "flush": store.flush,
        "close": lambda: store.close("A"),
    }

    def try_all() -> None:
        os.close(read)
        seen = {}
        for label, call in calls.items():
            try:
                call()
                seen[label] = "ok"
            except ForkedStoreError as exc:
                assert isinstance(exc, RuntimeError)
                seen[label] = str(exc)
        os.write(write, json.dumps(seen).encode())

    assert fork_and_wait(try_all) == 0
    os.close(write)
    seen = json.loads(os.read(read, 1 << 20))
    os.close(read)
    for label, outcome in seen.items():
        assert 'MemmapStore.open(' in outcome and 'mode="r"' in outcome, (label, outcome)
    assert float(store.read("A").sum()) == 64 * 64  # the child changed nothing
    store.close_all()


def test_a_child_that_reopens_read_only_reads_the_data(tmp_path: Path, quiet_fork: None) -> None:
    store = new_store(tmp_path)
    before = tree_state(tmp_path)

    def reopen_and_read() -> None:
        with MemmapStore.open(store.manifest_path, mode="r") as mine:
            assert float(mine.read("A").sum()) == 64 * 64
        with pytest.raises(StoreLockedError):
            MemmapStore.open(store.manifest_path, mode="r+")

    assert fork_and_wait(reopen_and_read) == 0
    assert_still_live(store, before)
    store.close_all()


def test_the_parents_close_frees_the_store_while_a_child_still_runs(tmp_path: Path, quiet_fork: None) -> None:
    """The child lets go of its inherited lock descriptors at fork: the lock lives as long as the parent's hold."""
    store = new_store(tmp_path)
    manifest = store.manifest_path
    go, wait = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(wait)
        select.select([go], [], [], 60)  # alive until the parent says so
        os._exit(0)
    os.close(go)
    try:
        # A reader keeps the lock file in place at the parent's close (no tidy unlink), so only
        # the child's inherited descriptor could still hold the writer byte on it.
        reader = MemmapStore.open(manifest, "r")
        store.close_all()
        assert writer_lock_path(store).exists()
        assert not is_held(writer_lock_path(store), WRITER_BYTE)
        with MemmapStore.open(manifest, "r+") as again:  # a new writer, the child still alive
            assert float(again.read("A").sum()) == 64 * 64
        reader.close_all()
        report = cleanup_stale(tmp_path)
        assert manifest in report.removed and not manifest.exists()
    finally:
        os.close(wait)
        os.waitpid(pid, 0)


def test_the_parents_close_after_the_child_exits_then_cleanup_works(tmp_path: Path, quiet_fork: None) -> None:
    store = new_store(tmp_path)
    grid = store.info("A").path
    assert fork_and_wait(store.close_all) == 0
    store.close_all()
    outcome = second_process(store)
    assert outcome["open"] == "opened r+", outcome
    assert {str(store.manifest_path), str(grid)} <= set(outcome["removed"])
    assert not grid.exists()


def test_a_reader_forked_keeps_the_writers_store_live(tmp_path: Path, quiet_fork: None) -> None:
    writer = new_store(tmp_path)
    reader = MemmapStore.open(writer.manifest_path, "r")
    before = tree_state(tmp_path)
    assert fork_and_wait(reader.close_all) == 0
    assert fork_and_wait(writer.close_all) == 0
    assert_still_live(writer, before)
    assert float(reader.read("A").sum()) == 64 * 64 + 1.0
    reader.close_all()
    writer.close_all()


# -- multiprocessing start methods -------------------------------------------------------------


def _inherited_child(store: MemmapStore, results: Any) -> None:
    """A fork-started worker given the parent's store: use it, reopen read-only, close it."""
    outcome: dict[str, str] = {}
    try:
        store.read("A")
        outcome["use"] = "ok"
    except ForkedStoreError as exc:
        outcome["use"] = type(exc).__name__
    with MemmapStore.open(store.manifest_path, mode="r") as mine:
        outcome["reopened_sum"] = str(float(mine.read("A").sum()))
    store.close_all()
    results.put(outcome)


def _unrelated_child(manifest: str, directory: str, results: Any) -> None:
    """A forkserver-started worker (no inherited store): a second writer, a cleaner, a reader."""
    outcome: dict[str, str] = {}
    try:
        MemmapStore.open(manifest, "r+").close_all()
        outcome["open"] = "opened r+"
    except StoreLockedError:
        outcome["open"] = "refused"
    outcome["removed"] = str(len(cleanup_stale(directory).removed))
    with MemmapStore.open(manifest, mode="r") as mine:
        outcome["reopened_sum"] = str(float(mine.read("A").sum()))
    results.put(outcome)


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_multiprocessing_workers_never_free_the_parents_store(tmp_path: Path, method: str, quiet_fork: None) -> None:
    store = new_store(tmp_path)
    before = tree_state(tmp_path)
    context = multiprocessing.get_context(method)
    results = context.Queue()
    if method == "fork":
        worker = context.Process(target=_inherited_child, args=(store, results))
    else:
        worker = context.Process(target=_unrelated_child, args=(str(store.manifest_path), str(tmp_path), results))
    worker.start()
    outcome = results.get(timeout=60)
    worker.join(60)
    assert worker.exitcode == 0
    assert outcome["reopened_sum"] == str(float(64 * 64))
    if method == "fork":
        assert outcome["use"] == "ForkedStoreError"
    else:
        assert outcome == {"open": "refused", "removed": "0", "reopened_sum": str(float(64 * 64))}
    assert_still_live(store, before)
    store.close_all()
    with pytest.raises(StoreClosedError):
        store.read("A")


def test_a_child_creating_in_a_store_without_grids_yet_touches_nothing(tmp_path: Path, quiet_fork: None) -> None:
    """No grid yet means no lock yet: the child's refused create must not tidy what the parent will make."""
    store = MemmapStore(tmp_path, simulation_id="fk")
    before = tree_state(tmp_path)
    read, write = os.pipe()

    def create_in_child() -> None:
        os.close(read)
        try:
            store.create("A", (8, 8))
        except ForkedStoreError:
            os.write(write, b"refused")
        store.close_all()

    assert fork_and_wait(create_in_child) == 0
    os.close(write)
    assert os.read(read, 64) == b"refused"
    os.close(read)
    assert tree_state(tmp_path) == before
    store.create("A", (64, 64), fill=1.0)
    assert_still_live(store, tree_state(tmp_path))
    store.close_all()
