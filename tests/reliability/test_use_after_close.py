"""Item 1: an array from create/get/open used after close, close_all or `with` never kills the interpreter."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from .helpers import run_child

# The child makes one grid "G" (8 x 8, 2.0 everywhere but G[0, 0] = 5.0), takes an array of it
# the way SOURCE says, closes the way CLOSER says, drops the store, collects garbage, then
# uses the array: sum, slice, and (if writable) a write that must read back.
CHILD = r"""
import gc, json, os, sys, traceback
import numpy as np
from farm_grids.errors import ReadOnlyGridError
from farm_grids.stores import MemmapStore, RamStore, SparseRamStore

KINDS = {"ram": RamStore, "sparse_ram": SparseRamStore}


def variant(backend, source, closer, directory):
    report = {}

    def new_store():
        return MemmapStore(directory) if backend == "memmap" else KINDS[backend]()

    def seed(store):
        made = store.create("G", (8, 8), fill=2.0)
        store.add_at("G", 0, 0, 3.0)
        store.flush()
        return made

    def close(store):
        if closer == "close":
            store.close("G")
        elif closer == "close_delete":
            try:
                store.close("G", delete_file=True)
            except ReadOnlyGridError:
                report["refused"] = True
                store.close("G")
        elif closer == "close_all":
            store.close_all()
        elif closer == "close_all_delete":
            try:
                store.close_all(delete_files=True)
            except ReadOnlyGridError:
                report["refused"] = True
                store.close_all()
        else:
            raise SystemExit(f"unknown closer {closer}")

    if source in ("create", "get"):
        if closer == "with":
            with new_store() as store:
                made = seed(store)
                array = made if source == "create" else store.get("G")
        else:
            store = new_store()
            made = seed(store)
            array = made if source == "create" else store.get("G")
            close(store)
    else:  # open_r / open_rplus: the writer closes cleanly, a second store reopens its manifest
        writer = new_store()
        seed(writer)
        manifest = writer.manifest_path
        writer.close_all()
        writer = None
        mode = "r" if source == "open_r" else "r+"
        if closer == "with":
            with MemmapStore.open(manifest, mode) as store:
                array = store.get("G")
        else:
            store = MemmapStore.open(manifest, mode)
            array = store.get("G")
            close(store)
    store = made = None
    gc.collect()
    report["sum"] = float(array.sum())
    report["slice"] = array[0:2, 0:3].tolist()
    report["writeable"] = bool(array.flags.writeable)
    if array.flags.writeable:
        array[7, 7] = 11.0
        array[1:3, 1:3] += 1.0
        report["after_write"] = [float(array[7, 7]), float(array[1:3, 1:3].sum())]
    del array
    gc.collect()
    return report


# One interpreter imports the engine once, then runs every variant in its own forked process:
# a crash (SIGSEGV) kills that variant's process only, and its status is reported.
results = {}
for key, (backend, source, closer, directory) in json.loads(sys.argv[1]).items():
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            text = json.dumps({"report": variant(backend, source, closer, directory)})
            code = 0
        except BaseException:
            text, code = json.dumps({"error": traceback.format_exc()}), 1
        os.write(write_end, text.encode())
        os._exit(code)
    os.close(write_end)
    chunks = []
    while True:
        chunk = os.read(read_end, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    outcome = json.loads(b"".join(chunks) or b"{}")
    outcome["status"] = os.waitstatus_to_exitcode(status)
    results[key] = outcome
print(json.dumps(results))
"""

EXPECTED_SUM = 2.0 * 64 + 3.0
EXPECTED_SLICE = [[5.0, 2.0, 2.0], [2.0, 2.0, 2.0]]
CLOSERS = ("close", "close_delete", "close_all", "close_all_delete", "with")


MEMMAP_SOURCES = ("create", "get", "open_r", "open_rplus")
RAM_BACKENDS = ("ram", "sparse_ram")


def variants(root: Path) -> dict[str, list[str]]:
    every = {f"memmap-{s}-{c}": ["memmap", s, c] for s in MEMMAP_SOURCES for c in CLOSERS}
    every.update({f"{b}-{s}-{c}": [b, s, c] for b in RAM_BACKENDS for s in ("create", "get") for c in CLOSERS})
    return {key: [*parts, str(root / key)] for key, parts in every.items()}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    """Every variant's outcome: its process's exit status and report (or traceback)."""
    root = tmp_path_factory.mktemp("use_after_close")
    done = run_child(CHILD, json.dumps(variants(root)), timeout=120)
    assert done.returncode == 0, done.explain()
    return json.loads(done.stdout)


def report_of(outcomes: dict[str, dict[str, object]], key: str) -> dict[str, object]:
    outcome = outcomes[key]
    crashed = outcome["status"] in (-signal.SIGSEGV, -signal.SIGBUS)
    assert not crashed, f"{key}: using the array after close killed the process ({outcome['status']})"
    assert outcome["status"] == 0, f"{key}: {outcome.get('error')}"
    return outcome["report"]  # type: ignore[return-value]


def check_values(report: dict[str, object], *, writable: bool) -> None:
    assert report["sum"] == EXPECTED_SUM
    assert report["slice"] == EXPECTED_SLICE
    assert report["writeable"] is writable
    if writable:
        assert report["after_write"] == [11.0, 4 * 3.0]  # G[1:3, 1:3] was 2.0, now 3.0


@pytest.mark.parametrize("closer", CLOSERS)
@pytest.mark.parametrize("source", MEMMAP_SOURCES)
def test_memmap_array_stays_valid_after_close(outcomes: dict, source: str, closer: str) -> None:
    report = report_of(outcomes, f"memmap-{source}-{closer}")
    check_values(report, writable=source != "open_r")
    # A read-only store refuses to delete the writer's files; closing it still works.
    assert report.get("refused", False) is (source == "open_r" and closer.endswith("_delete"))


@pytest.mark.parametrize("closer", CLOSERS)
@pytest.mark.parametrize("source", ("create", "get"))
@pytest.mark.parametrize("backend", RAM_BACKENDS)
def test_ram_array_stays_valid_after_close(outcomes: dict, backend: str, source: str, closer: str) -> None:
    check_values(report_of(outcomes, f"{backend}-{source}-{closer}"), writable=True)


READER_OUTLIVES_WRITER = r"""
import gc, json, sys
from farm_grids.stores import MemmapStore
writer = MemmapStore(sys.argv[1])
writer.create("G", (64, 64), fill=2.0)
writer.flush()
reader = MemmapStore.open(writer.manifest_path, "r")
array = reader.get("G")
window = reader.get_window("G", 0, 4, 0, 4)
writer.close_all(delete_files=True)   # the writer deletes the files under the reader
reader.close_all()
reader = writer = None
gc.collect()
print(json.dumps([float(array.sum()), float(array[63, 63]), float(window.sum())]))
"""


def test_a_readers_array_survives_the_writer_deleting_the_files(tmp_path: Path) -> None:
    done = run_child(READER_OUTLIVES_WRITER, str(tmp_path / "store"))
    assert done.returncode == 0, done.explain()
    assert json.loads(done.stdout) == [2.0 * 64 * 64, 2.0, 2.0 * 16]
    assert list((tmp_path / "store").iterdir()) == []
