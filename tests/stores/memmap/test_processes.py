"""Memmap files across processes: no collisions, SIGKILL survival, live readers, stale clean-up."""

from __future__ import annotations

import hashlib
import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from farm_grids import CleanupReport, MemmapStore, StorageDirectoryError, cleanup_stale
from farm_grids.errors import UncleanShutdownWarning

from farm_grids.testing import temp_files_in
from ..support import python_env, run_python

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX processes")

# The child's grids are derived from a seed, so parent and children agree on the values
# without shipping arrays between processes.
WRITER_CODE = """
import sys, time
import numpy as np
from farm_grids import MemmapStore
store = MemmapStore(sys.argv[1], simulation_id="shared")
store.create("heat", (64, 96))
store.write("heat", np.random.default_rng(1234).random((64, 96), dtype=np.float32))
store.add_many("heat", [0, 63], [0, 95], [1.0, 2.0])
store.create("counts", (10, 10), dtype="int32", fill=7)
store.add_at("counts", 9, 9, 5)
store.flush()
print(store.manifest_path, flush=True)
if sys.argv[2] == "sleep":
    time.sleep(120)
store.close_all()
"""

READ_HASHES_CODE = """
import hashlib, json, sys
from farm_grids import MemmapStore
with MemmapStore.open(sys.argv[1], mode="r") as store:
    print(json.dumps({n: hashlib.sha256(store.get(n).tobytes()).hexdigest() for n in store.names()}))
"""

READER_LOOP_CODE = """
import hashlib, sys
from farm_grids import MemmapStore, ReadOnlyGridError
store = MemmapStore.open(sys.argv[1], mode="r")
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() == "quit":
        break
    try:
        store.fill("heat", 0.0)
        refused = "wrote"
    except ReadOnlyGridError:
        refused = "read-only"
    print(hashlib.sha256(store.get("heat").tobytes()).hexdigest(), refused, flush=True)
store.close_all()
"""


def writer_expected() -> dict[str, np.ndarray]:
    heat = np.random.default_rng(1234).random((64, 96), dtype=np.float32)
    heat[0, 0] += 1.0
    heat[63, 95] += 2.0
    counts = np.full((10, 10), 7, dtype=np.int32)
    counts[9, 9] += 5
    return {"heat": heat, "counts": counts}


def sha(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def read_line(proc: subprocess.Popen[str], timeout: float = 30.0) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, f"child {proc.pid} printed nothing within {timeout}s"
    return proc.stdout.readline().strip()


def spawn(code: str, *args: str, stdin: bool = False) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=python_env(),
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_two_processes_with_one_simulation_id_never_share_a_file(tmp_path: Path) -> None:
    store = MemmapStore(tmp_path, simulation_id="shared")
    store.create("heat", (64, 96), fill=3.0)
    store.flush()
    ours = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    manifest = Path(run_python(WRITER_CODE, str(tmp_path), "exit").strip())
    theirs = {p.name for p in tmp_path.iterdir()} - set(ours)
    assert manifest.name in theirs and len(theirs) == 3  # two grids and a manifest
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name in ours} == ours
    assert (store.get("heat") == 3.0).all()
    child_hashes = json.loads(run_python(READ_HASHES_CODE, str(manifest)))
    assert child_hashes == {name: sha(v) for name, v in writer_expected().items()}
    store.close_all(delete_files=True)


def test_a_flushed_writer_killed_with_sigkill_loses_nothing(
    tmp_path: Path, children: list[subprocess.Popen[str]]
) -> None:
    writer = spawn(WRITER_CODE, str(tmp_path), "sleep")
    children.append(writer)
    manifest = Path(read_line(writer))
    writer.send_signal(signal.SIGKILL)
    assert writer.wait(timeout=30) == -signal.SIGKILL
    # A fresh process, not this one, proves the data reached the files.
    hashes = json.loads(run_python(READ_HASHES_CODE, str(manifest)))
    assert hashes == {name: sha(v) for name, v in writer_expected().items()}
    # The kill left the manifest marked open: reopening works but says it was not clean.
    with pytest.warns(UncleanShutdownWarning, match="not closed cleanly"):
        reopened = MemmapStore.open(manifest, mode="r+")
    with reopened:
        assert reopened.store_info().clean is False
        for name, values in writer_expected().items():
            np.testing.assert_array_equal(reopened.get(name), values)
    assert temp_files_in(tmp_path) == []


def test_readers_see_what_a_running_writer_flushed(
    tmp_path: Path, children: list[subprocess.Popen[str]]
) -> None:
    writer = MemmapStore(tmp_path, simulation_id="live")
    writer.create("heat", (32, 48), dtype="float64")
    writer.write("heat", np.arange(32 * 48, dtype=np.float64).reshape(32, 48))
    writer.flush()
    manifest_bytes = writer.manifest_path.read_bytes()
    readers = [spawn(READER_LOOP_CODE, str(writer.manifest_path), stdin=True) for _ in range(2)]
    children.extend(readers)
    assert [read_line(r) for r in readers] == ["ready", "ready"]

    def ask_readers() -> list[str]:
        for reader in readers:
            assert reader.stdin is not None
            reader.stdin.write("check\n")
            reader.stdin.flush()
        return [read_line(reader) for reader in readers]

    expected = f"{sha(writer.get('heat'))} read-only"
    assert ask_readers() == [expected, expected]
    # The writer keeps running and changes the grid; the readers' mappings follow.
    writer.add_many("heat", [0, 31, 5], [0, 47, 5], [10.0, 20.0, 30.0])
    writer.scale("heat", 0.5, region=(slice(0, 4), slice(None)))
    writer.flush("heat")
    expected = f"{sha(writer.get('heat'))} read-only"
    assert ask_readers() == [expected, expected]
    for reader in readers:
        assert reader.stdin is not None
        reader.stdin.write("quit\n")
        reader.stdin.flush()
        assert reader.wait(timeout=30) == 0
    # Readers never rewrite or remove the writer's manifest, and the writer still works.
    assert writer.manifest_path.read_bytes() == manifest_bytes
    writer.add_at("heat", 1, 1, 1.0)
    writer.close_all(delete_files=True)
    assert list(tmp_path.iterdir()) == []


def test_cleanup_stale_removes_only_files_of_dead_processes(tmp_path: Path) -> None:
    dead_child = subprocess.run(
        [sys.executable, "-c", WRITER_CODE + "import os; print(os.getpid())", str(tmp_path), "exit"],
        env=python_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    manifest_line, pid_line = dead_child.stdout.split()
    dead_pid = int(pid_line)
    try:
        os.kill(dead_pid, 0)
        pytest.skip(f"pid {dead_pid} was reused before the test could check it")
    except ProcessLookupError:
        pass
    stale = {p.name: p.stat().st_size for p in tmp_path.iterdir()}
    assert Path(manifest_line).name in stale and len(stale) == 3

    live = MemmapStore(tmp_path, simulation_id="shared")
    live.create("heat", (64, 96), fill=1.0)
    bystanders = {
        "notes.txt": b"not a grid",
        f"heat_p{dead_pid}-abc_3x3.txt": b"wrong suffix",
        f"heat_p{dead_pid}-abc_3x3.dat.bak": b"not a grid file",
    }
    for name, content in bystanders.items():
        (tmp_path / name).write_bytes(content)
    # The live store's grid and manifest, its lock file and its reserved manifest spare.
    live_files = {p.name for p in tmp_path.iterdir() if live.token in p.name}
    assert {live.info("heat").path.name, live.manifest_path.name} < live_files  # type: ignore[union-attr]

    report = cleanup_stale(tmp_path)
    assert isinstance(report, CleanupReport)
    assert {p.name for p in report.removed} == set(stale)
    assert report.bytes_freed == sum(stale.values())
    assert report.kept == len(live_files)
    assert str(len(stale)) in str(report)
    assert {p.name for p in tmp_path.iterdir()} == live_files | set(bystanders)
    live.add_at("heat", 0, 0, 1.0)  # the live store is untouched and still works
    assert cleanup_stale(tmp_path).removed == ()
    live.close_all(delete_files=True)
    assert {p.name for p in tmp_path.iterdir()} == set(bystanders)


def test_cleanup_stale_refuses_a_path_that_is_not_a_directory(tmp_path: Path) -> None:
    plain = tmp_path / "plain-file"
    plain.write_text("x")
    with pytest.raises(StorageDirectoryError, match="plain-file"):
        cleanup_stale(plain)
    with pytest.raises(StorageDirectoryError, match="absent"):
        cleanup_stale(tmp_path / "absent")
    assert plain.read_text() == "x"


def test_cleanup_stale_keeps_files_a_live_process_reopened(tmp_path: Path) -> None:
    # The writer exits (its pid is dead), but this process has its grid mapped again.
    manifest = run_python(
        "import sys\n"
        "from farm_grids import MemmapStore\n"
        "m = MemmapStore(sys.argv[1], namespace='w')\n"
        "m.create('a', (8, 8), fill=2.0)\n"
        "m.close_all()\n"
        "print(m.manifest_path)\n",
        str(tmp_path),
    ).strip()
    with MemmapStore.open(manifest, mode="r") as reader:
        report = cleanup_stale(tmp_path)
        assert reader.info("a").path.exists()
        assert reader.info("a").path not in report.removed
        assert float(reader.get("a").sum()) == 128.0
    report = cleanup_stale(tmp_path)  # unmapped now: both the file and the manifest go
    assert len(report.removed) == 2 and list(tmp_path.iterdir()) == []


def test_cleanup_stale_dry_run_lists_without_removing(tmp_path: Path) -> None:
    run_python(
        "import sys\n"
        "from farm_grids import MemmapStore\n"
        "m = MemmapStore(sys.argv[1])\n"
        "m.create('a', (4, 4))\n"
        "m.close_all()\n",
        str(tmp_path),
    )
    before = sorted(tmp_path.iterdir())
    report = cleanup_stale(tmp_path, dry_run=True)
    assert sorted(report.removed) == before and sorted(tmp_path.iterdir()) == before
    assert len(cleanup_stale(tmp_path).removed) == 2 and list(tmp_path.iterdir()) == []
