"""Item 4: cleanup_stale judges liveness by the store's lock, across PID namespaces and pid reuse."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from farm_grids.stores import MemmapStore, cleanup_stale

from .helpers import python_env, read_line, run_child, spawn, tree_state

# Runs as pid 1 of a new PID namespace. /proc is still the host's (no --mount-proc), so a
# namespace pid can be checked against the host: pids are burnt until the writer's own
# namespace pid is one no host process has. A pid check from the host would then call
# the live writer dead.
NAMESPACE_WRITER = r"""
import json, os, signal, sys
from pathlib import Path

def writer():
    from farm_grids.stores import MemmapStore
    store = MemmapStore(sys.argv[1], simulation_id="ns")
    store.create("heat", (32, 32), fill=4.0)
    store.create("sparse", (256, 256))
    store.add_at("sparse", 3, 3, 1.5)
    store.flush()
    print(json.dumps({"ns_pid": os.getpid(), "manifest": str(store.manifest_path)}), flush=True)
    sys.stdin.readline()
    os.kill(os.getpid(), signal.SIGKILL)  # the container dies: nothing closed, nothing cleaned

for _ in range(20000):
    child = os.fork()
    if child == 0:
        if os.path.exists(f"/proc/{os.getpid()}"):
            os._exit(3)  # a host process has this number: burn it, try the next
        try:
            writer()
        finally:
            os._exit(1)
    _, status = os.waitpid(child, 0)
    if os.waitstatus_to_exitcode(status) != 3:
        raise SystemExit(0)
print(json.dumps({"error": "no free pid"}), flush=True)
"""


def _unshare_unavailable() -> str | None:
    if shutil.which("unshare") is None:
        return "unshare is not installed"
    if os.geteuid() != 0:
        return "unshare --pid needs root"
    probe = subprocess.run(["unshare", "--pid", "--fork", "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return f"unshare --pid --fork fails here: {probe.stderr.strip() or probe.returncode}"
    return None


def test_a_writer_in_another_pid_namespace_keeps_its_files(
    tmp_path: Path, children: list[subprocess.Popen[str]]
) -> None:
    reason = _unshare_unavailable()
    if reason is not None:
        pytest.skip(reason)
    directory = tmp_path / "shared-volume"
    proc = spawn(NAMESPACE_WRITER, str(directory), prefix=("unshare", "--pid", "--fork"))
    children.append(proc)
    started = json.loads(read_line(proc, timeout=60))
    assert "error" not in started, started
    ns_pid = started["ns_pid"]
    assert f"_p{ns_pid}-" in Path(started["manifest"]).name
    # The embedded pid belongs to no process this namespace can see: only the lock says "alive".
    assert not Path(f"/proc/{ns_pid}").exists()
    before = tree_state(directory)
    assert any(name.endswith(".dat") for name in before) and any(name.endswith(".lock") for name in before)

    report = cleanup_stale(directory)
    assert report.removed == (), f"cleanup removed a live writer's files: {report.removed}"
    assert tree_state(directory) == before
    with MemmapStore.open(started["manifest"], "r") as reader:  # and the store still reads
        assert reader.get("sparse")[3, 3] == 1.5

    assert proc.stdin is not None
    proc.stdin.write("die\n")
    proc.stdin.flush()
    assert proc.wait(timeout=30) == 0
    report = cleanup_stale(directory)
    assert sorted(p.name for p in report.removed) == sorted(before), "a dead writer's files must all go"
    assert list(directory.iterdir()) == []


DEAD_WRITER = r"""
import json, os, sys
from farm_grids.stores import MemmapStore
store = MemmapStore(sys.argv[1])
store.create("heat", (16, 16), fill=2.0)
store.create("other", (8, 8), dtype="int32", fill=7)
store.flush()
print(json.dumps({"pid": os.getpid(), "token": store.token}), flush=True)
os._exit(0)  # died without closing: files, manifest, lock file and spare stay behind
"""


def dead_store(directory: Path) -> dict[str, object]:
    done = run_child(DEAD_WRITER, str(directory))
    assert done.returncode == 0, done.explain()
    return json.loads(done.stdout)


def test_a_dead_writers_store_is_removed_although_its_pid_is_alive(tmp_path: Path) -> None:
    dead = dead_store(tmp_path)
    # Pid reuse: the dead store's files now carry this (very much alive) process's pid.
    for path in tmp_path.iterdir():
        renamed = path.name.replace(f"p{dead['pid']}-", f"p{os.getpid()}-")
        assert renamed != path.name, path.name
        path.rename(tmp_path / renamed)
    doomed = set(tree_state(tmp_path))
    live = MemmapStore(tmp_path)
    live.create("mine", (4, 4), fill=1.0)
    kept = set(tree_state(tmp_path)) - doomed
    try:
        report = cleanup_stale(tmp_path)
        assert {p.name for p in report.removed} == doomed
        assert set(tree_state(tmp_path)) == kept  # the live store of the same pid is untouched
        assert (live.get("mine") == 1.0).all()
    finally:
        live.close_all(delete_files=True)


def test_stray_temp_manifests_of_dead_stores_are_removed(tmp_path: Path) -> None:
    dead = dead_store(tmp_path)
    dead_temp = tmp_path / f".manifest-p{dead['pid']}-{dead['token']}-0badc0de.tmp"
    dead_temp.write_text("{half a manifest")
    orphan_temp = tmp_path / ".manifest-p999999-00ff00ff-12345678.tmp"  # its store left nothing else
    orphan_temp.write_text("{")
    live = MemmapStore(tmp_path)
    live.create("mine", (4, 4))
    live_temp = tmp_path / f".manifest-p{live.pid}-{live.token}-abcdef01.tmp"  # a live writer mid-rewrite
    live_temp.write_text("{")
    try:
        removed = {p.name for p in cleanup_stale(tmp_path).removed}
        assert dead_temp.name in removed and orphan_temp.name in removed
        assert not dead_temp.exists() and not orphan_temp.exists()
        assert live_temp.exists() and live_temp.name not in removed
        assert not [p for p in tmp_path.iterdir() if f"p{dead['pid']}-" in p.name]
    finally:
        live_temp.unlink()
        live.close_all(delete_files=True)


def test_a_reader_keeps_a_dead_writers_store_alive(tmp_path: Path) -> None:
    dead = dead_store(tmp_path)
    manifest = next(p for p in tmp_path.iterdir() if p.name.endswith(".json"))
    with pytest.warns(Warning):  # unclean: the writer died
        reader = MemmapStore.open(manifest, "r")
    before = tree_state(tmp_path)
    report = cleanup_stale(tmp_path)
    assert report.removed == ()
    assert tree_state(tmp_path) == before
    np.testing.assert_array_equal(reader.get("other"), np.full((8, 8), 7, np.int32))
    reader.close_all()
    removed = cleanup_stale(tmp_path).removed
    assert removed and not [p for p in tmp_path.iterdir() if f"p{dead['pid']}-" in p.name]


CLEANER = r"""
import json, sys
from farm_grids.stores import cleanup_stale
print(json.dumps(sorted(p.name for p in cleanup_stale(sys.argv[1]).removed)))
"""


def test_cleanup_from_another_process_keeps_this_processs_open_store(tmp_path: Path) -> None:
    store = MemmapStore(tmp_path)
    store.create("g", (8, 8), fill=5.0)
    store.flush()
    try:
        done = subprocess.run([sys.executable, "-c", CLEANER, str(tmp_path)], env=python_env(),
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == []
        assert (store.get("g") == 5.0).all() and store.manifest_path.exists()
    finally:
        store.close_all(delete_files=True)
