"""Item 3: one writer per store (a second r+ open is refused, naming the holder); readers never block it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

from farm_grids.errors import GridFileMismatchError, StoreLockedError, UncleanShutdownWarning
from farm_grids.stores import MemmapStore
from farm_grids.stores.memmap.locks import READER_BYTE, WRITER_BYTE, is_held

from .helpers import read_line, run_child, spawn, tree_state

ADDS = 20_000


def make_store(directory: Path) -> Path:
    """A cleanly closed store with a float64 counter grid; returns its manifest."""
    store = MemmapStore(directory)
    store.create("count", (4, 4), dtype="float64")
    store.create("heat", (16, 16), fill=1.0)
    manifest = store.manifest_path
    store.close_all()
    return manifest


def send(proc: subprocess.Popen[str], line: str) -> None:
    assert proc.stdin is not None
    proc.stdin.write(line + "\n")
    proc.stdin.flush()


def test_the_creating_store_holds_the_writer_lock(tmp_path: Path) -> None:
    store = MemmapStore(tmp_path)
    store.create("g", (4, 4), fill=3.0)
    before = tree_state(tmp_path)
    with pytest.raises(StoreLockedError) as caught:
        MemmapStore.open(store.manifest_path, "r+")
    assert isinstance(caught.value, PermissionError)
    message = str(caught.value)
    assert f"pid {os.getpid()}" in message and socket.gethostname() in message, message
    assert tree_state(tmp_path) == before  # the refused open changed nothing
    store.add_at("g", 0, 0, 1.0)  # the holder still writes
    store.close_all()
    with MemmapStore.open(store.manifest_path, "r+") as reopened:  # free once closed
        assert reopened.get("g")[0, 0] == 4.0


def test_a_second_writer_in_the_same_process_is_refused(tmp_path: Path) -> None:
    manifest = make_store(tmp_path)
    first = MemmapStore.open(manifest, "r+")
    try:
        for _ in range(3):  # refused every time, and the refusal releases nothing of the first
            with pytest.raises(StoreLockedError, match=f"pid {os.getpid()}"):
                MemmapStore.open(manifest, "r+")
        first.add_at("count", 0, 0, 1.0)
    finally:
        first.close_all()
    with MemmapStore.open(manifest, "r+") as second:
        assert second.get("count")[0, 0] == 1.0


HOLDER = r"""
import sys
from farm_grids.stores import MemmapStore
store = MemmapStore.open(sys.argv[1], sys.argv[2])
print("holding", flush=True)
sys.stdin.readline()
if sys.argv[2] == "r+":
    store.add_at("count", 1, 1, 5.0)
    store.flush()
print("wrote", flush=True)
sys.stdin.readline()
store.close_all()
"""


def test_a_writer_in_another_process_is_named_and_readers_still_open(
    tmp_path: Path, children: list[subprocess.Popen[str]]
) -> None:
    manifest = make_store(tmp_path)
    holder = spawn(HOLDER, str(manifest), "r+")
    children.append(holder)
    assert read_line(holder) == "holding"
    with pytest.raises(StoreLockedError) as caught:
        MemmapStore.open(manifest, "r+")
    assert f"pid {holder.pid}" in str(caught.value) and socket.gethostname() in str(caught.value)
    # A reader is welcome while the writer runs, and (the writer being alive) is not warned.
    with warnings.catch_warnings():
        warnings.simplefilter("error", UncleanShutdownWarning)
        reader = MemmapStore.open(manifest, "r")
    assert reader.store_info().writer_active is True
    send(holder, "write")
    assert read_line(holder) == "wrote"
    assert reader.get("count")[1, 1] == 5.0  # the reader's mapping follows the writer
    reader.close_all()
    send(holder, "quit")
    assert holder.wait(timeout=30) == 0


def test_readers_never_block_the_writer(tmp_path: Path, children: list[subprocess.Popen[str]]) -> None:
    manifest = make_store(tmp_path)
    readers = [MemmapStore.open(manifest, "r") for _ in range(2)]
    remote_reader = spawn(HOLDER, str(manifest), "r")
    children.append(remote_reader)
    assert read_line(remote_reader) == "holding"
    writer = spawn(HOLDER, str(manifest), "r+")  # readers of both kinds hold the shared lock
    children.append(writer)
    assert read_line(writer) == "holding"
    send(writer, "write")
    assert read_line(writer) == "wrote"
    assert all(r.get("count")[1, 1] == 5.0 for r in readers)
    for proc in (writer, remote_reader):
        send(proc, "go")
        send(proc, "quit")
        assert proc.wait(timeout=30) == 0
    for r in readers:
        r.close_all()


def test_a_killed_writer_frees_the_lock(tmp_path: Path, children: list[subprocess.Popen[str]]) -> None:
    manifest = make_store(tmp_path)
    holder = spawn(HOLDER, str(manifest), "r+")
    children.append(holder)
    assert read_line(holder) == "holding"
    holder.send_signal(signal.SIGKILL)
    assert holder.wait(timeout=30) == -signal.SIGKILL
    with pytest.warns(UncleanShutdownWarning):
        store = MemmapStore.open(manifest, "r+")
    with store:
        assert store.store_info().clean is False


RACER = r"""
import json, os, sys
from farm_grids.errors import StoreLockedError
from farm_grids.stores import MemmapStore
manifest, adds = sys.argv[1], int(sys.argv[2])
sys.stdin.readline()  # the start line: both racers open at once
try:
    store = MemmapStore.open(manifest, "r+")
except StoreLockedError as exc:
    print(json.dumps({"won": False, "error": str(exc)}), flush=True)
    raise SystemExit(0)
print(json.dumps({"won": True}), flush=True)
for _ in range(adds):
    store.add_at("count", 0, 0, 1.0)
store.create(f"extra_{os.getpid()}", (8, 8), fill=float(os.getpid() % 1000))
store.flush()
print(json.dumps({"done": True}), flush=True)
sys.stdin.readline()  # the lock is held until the parent has seen both answers
store.close_all()
"""


def test_two_process_writer_race_has_exactly_one_winner(
    tmp_path: Path, children: list[subprocess.Popen[str]]
) -> None:
    manifest = make_store(tmp_path)
    racers = [spawn(RACER, str(manifest), str(ADDS)) for _ in range(2)]
    children.extend(racers)
    for racer in racers:
        send(racer, "go")
    answers = [json.loads(read_line(racer)) for racer in racers]
    winners = [racer for racer, answer in zip(racers, answers) if answer["won"]]
    assert len(winners) == 1, f"expected exactly one writer, got {answers}"
    (winner,) = winners
    (loser,) = [racer for racer in racers if racer is not winner]
    assert loser.wait(timeout=60) == 0
    # 20,000 adds and a flush take ~0.4 s; the bound is for a device stalled by other jobs' syncs.
    assert json.loads(read_line(winner, timeout=300)) == {"done": True}
    # The winner still holds the store: a third writer is refused and told who holds it.
    with pytest.raises(StoreLockedError, match=f"pid {winner.pid} "):
        MemmapStore.open(manifest, "r+")
    send(winner, "quit")
    assert winner.wait(timeout=60) == 0
    with MemmapStore.open(manifest, "r") as store:
        assert store.get("count")[0, 0] == ADDS  # never two writers' worth (39,582 before)
        assert sorted(store.names()) == sorted(["count", "heat", f"extra_{winner.pid}"])
        np.testing.assert_array_equal(store.get(f"extra_{winner.pid}"), np.full((8, 8), winner.pid % 1000, np.float32))
        listed = {Path(str(store.info(name).path)).name for name in store.names()}
    on_disk = {p.name for p in tmp_path.iterdir() if p.suffix == ".dat"}
    assert on_disk == listed, f"orphaned grid files: {sorted(on_disk - listed)}"


CRASHED_READER = r"""
import os, sys
from farm_grids.stores import MemmapStore
MemmapStore.open(sys.argv[1], "r")
os._exit(0)
"""


@pytest.mark.parametrize("mode", ["r+", "r"])
def test_a_refused_open_leaves_a_lock_file_it_did_not_make(tmp_path: Path, mode: str) -> None:
    """A crashed reader left its lock file: an open refused for a bad ``expect`` changes nothing, that file included."""
    manifest = make_store(tmp_path)
    crashed = run_child(CRASHED_READER, str(manifest))
    assert crashed.returncode == 0, crashed.explain()
    lock = manifest.with_name(manifest.name + ".lock")
    assert lock.exists()
    before = tree_state(tmp_path)
    with pytest.raises(GridFileMismatchError):
        MemmapStore.open(manifest, mode, expect={"heat": ((8, 8), "float32")})
    after = tree_state(tmp_path)
    if mode == "r+":  # the writer wrote its holder record into the lock file while it held it
        assert after.pop(lock.name)[0] == before.pop(lock.name)[0] == "file"
    assert after == before
    assert not is_held(lock, WRITER_BYTE) and not is_held(lock, READER_BYTE)


def test_a_refused_open_removes_the_lock_file_it_made(tmp_path: Path) -> None:
    manifest = make_store(tmp_path)
    before = tree_state(tmp_path)
    with pytest.raises(GridFileMismatchError):
        MemmapStore.open(manifest, "r+", expect={"heat": ((8, 8), "float32")})
    assert tree_state(tmp_path) == before
