"""The SeaweedFS launcher: it listens on 127.0.0.1 only, refuses wrong keys, and never outlives its owner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from farm_grids import ObjectStoreError
from farm_grids.environment import Environment
from harness.probes.s3_server import ListeningSocket, SeaweedS3Server, foreign_bindings, listening_sockets
from harness.probes.tempfiles import read_marker, remove_stale_scratch

from . import worlds

LISTENER = """
import socket, sys, time
wide = socket.socket(); wide.bind(("127.0.0.2", 0)); wide.listen()
local = socket.socket(); local.bind(("127.0.0.1", 0)); local.listen()
datagram = socket.socket(type=socket.SOCK_DGRAM); datagram.bind(("127.0.0.1", 0))
print(wide.getsockname()[1], local.getsockname()[1], datagram.getsockname()[1], flush=True)
time.sleep(60)
"""

ORPHANED_SERVER = """
import time
from harness.probes.s3_server import SeaweedS3Server
server = SeaweedS3Server().start()
print(server.pid, server.directory, flush=True)
time.sleep(120)
"""


def _child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(Path(worlds.__file__).parents[2])}


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_seaweedfs_listens_on_127_0_0_1_and_nowhere_else(seaweedfs_server: SeaweedS3Server) -> None:
    sockets = listening_sockets(seaweedfs_server.pid)
    ports = {s.port for s in sockets}
    # Not vacuous: the S3, master, volume and filer ports (and their gRPC ones) are all there.
    assert {seaweedfs_server.ports[flag] for flag in ("s3.port", "master.port", "volume.port", "filer.port")} <= ports
    assert len(sockets) >= 8
    assert foreign_bindings(sockets) == [], sockets


def test_the_binding_check_flags_every_address_but_127_0_0_1() -> None:
    child = subprocess.Popen([sys.executable, "-c", LISTENER], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        wide, local, datagram = (int(port) for port in child.stdout.readline().split())
        sockets = listening_sockets(child.pid)
        assert set(sockets) == {ListeningSocket("tcp", "127.0.0.2", wide), ListeningSocket("tcp", "127.0.0.1", local),
                                ListeningSocket("udp", "127.0.0.1", datagram)}
        assert foreign_bindings(sockets) == [ListeningSocket("tcp", "127.0.0.2", wide)]
    finally:
        child.kill()
        child.wait(timeout=30)
    everywhere = [ListeningSocket("tcp", "0.0.0.0", 1), ListeningSocket("tcp", "::", 2), ListeningSocket("udp", "10.0.0.5", 3)]
    assert foreign_bindings(everywhere) == everywhere


def test_a_wrong_key_is_refused_with_a_typed_error(seaweedfs_server: SeaweedS3Server) -> None:
    seaweedfs_server.create_bucket("farm-locked")
    options = {**seaweedfs_server.storage_options(), "secret": "not-the-secret"}
    env, _ = worlds.build(worlds.config("ram"))
    with env, pytest.raises(ObjectStoreError, match="(?i)denied|invalid|forbidden|signature"):
        env.snapshot("s3://farm-locked/snap.zarr", storage_options=options)
    with pytest.raises(ObjectStoreError):
        Environment.restore("s3://farm-locked/snap.zarr", storage_options={**options, "key": "nobody"})


def test_stopping_ends_the_process_and_removes_its_data() -> None:
    server = SeaweedS3Server().start()
    pid, directory = server.pid, server.directory
    assert directory is not None and (directory / "data").is_dir()
    server.create_bucket("farm-short-lived")
    server.stop()
    assert _gone(pid) and not directory.exists()
    server.stop()  # twice is harmless


def test_a_killed_owner_takes_its_server_with_it() -> None:
    owner = subprocess.Popen([sys.executable, "-c", ORPHANED_SERVER], stdout=subprocess.PIPE, text=True,
                             env=_child_env())
    assert owner.stdout is not None
    pid_text, directory_text = owner.stdout.readline().split(maxsplit=1)
    pid, directory = int(pid_text), Path(directory_text.strip())
    assert not _gone(pid)
    owner.send_signal(signal.SIGKILL)
    owner.wait(timeout=30)
    deadline = time.monotonic() + 30
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if not _gone(pid):
        os.kill(pid, signal.SIGKILL)  # started by our child: never leave it running, even on failure
    assert _gone(pid), "SeaweedFS outlived the process that started it"
    # Its data directory is left (a SIGKILL runs no cleanup), marked as ours: `farm-harness clean` takes it.
    assert read_marker(directory) is not None
    assert remove_stale_scratch(directory) and not directory.exists()
