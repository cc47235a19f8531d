"""Snapshots under faults: a kill mid-write, a torn or corrupt snapshot, a wrong world, bad storage."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import zarr

from farm_grids import ObjectStoreError, SnapshotError
from farm_grids.observe import default_registry
from farm_grids.environment import Environment
from farm_grids.snapshot import generation_of

from . import worlds
from .s3server import CountingS3Server

KILL_TRIALS = 10

SNAPSHOT_LOOP = """
import sys
from tests.objectstore import worlds
env, driver = worlds.build(worlds.config("ram"))
for n in range(1000):
    driver.step()
    env.snapshot(f"{sys.argv[1]}/snap-{n}.zarr")
    print(n, flush=True)
"""


def _child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(Path(worlds.__file__).parents[2])}


def _committed(url: str) -> bool:
    try:
        return zarr.open_group(url, mode="r").attrs["farm_grids_snapshot"]["committed"] is True
    except Exception:
        return False


def test_a_kill_mid_snapshot_leaves_the_previous_one_restorable_and_the_torn_one_refused(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    torn_seen = 0
    for trial in range(KILL_TRIALS):
        directory = tmp_path / f"trial-{trial}"
        directory.mkdir()
        child = subprocess.Popen([sys.executable, "-c", SNAPSHOT_LOOP, str(directory)], stdout=subprocess.PIPE,
                                 text=True, env=_child_env())
        assert child.stdout is not None
        first = child.stdout.readline()  # one committed snapshot exists before the kill
        assert first.strip() == "0", first
        time.sleep(float(rng.uniform(0.0, 0.25)))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        snapshots = sorted(directory.glob("snap-*.zarr"), key=lambda p: int(p.stem.split("-")[1]))
        committed = [p for p in snapshots if _committed(str(p))]
        assert committed, "the first snapshot was committed before the kill"
        last_good = committed[-1]
        with Environment.restore(str(last_good)) as restored:
            assert restored.tick == int(last_good.stem.split("-")[1]) + 1
        for torn in (p for p in snapshots if p not in committed):
            torn_seen += 1
            with pytest.raises((SnapshotError, ObjectStoreError)):
                Environment.restore(str(torn))
    assert torn_seen >= 1, "no kill landed mid-snapshot: the test proved nothing (raise the delay range)"


@pytest.fixture
def snapshot(tmp_path: Path) -> str:
    env, driver = worlds.build(worlds.config("ram"))
    with env:
        driver.run(3)
        url = str(tmp_path / "snap.zarr")
        env.snapshot(url)
    return url


def _edit_meta(url: str, **changes: object) -> None:
    group = zarr.open_group(url, mode="r+")
    meta = dict(group.attrs["farm_grids_snapshot"])
    meta.update(changes)
    group.attrs["farm_grids_snapshot"] = meta


def test_an_existing_snapshot_is_never_overwritten_by_accident(snapshot: str) -> None:
    env, _ = worlds.build(worlds.config("ram"))
    with env:
        with pytest.raises(SnapshotError, match="already exists"):
            env.snapshot(snapshot)
        assert _committed(snapshot)
        env.snapshot(snapshot, overwrite=True)
    assert _committed(snapshot)


def test_a_snapshot_of_a_newer_format_is_refused(snapshot: str) -> None:
    _edit_meta(snapshot, format=99)
    with pytest.raises(SnapshotError, match="newer format"):
        Environment.restore(snapshot)


def test_a_snapshot_without_its_commit_marker_is_refused(snapshot: str) -> None:
    _edit_meta(snapshot, committed=False)
    with pytest.raises(SnapshotError, match="torn"):
        Environment.restore(snapshot)


def test_a_snapshot_of_another_world_size_is_refused(snapshot: str) -> None:
    other = worlds.config("ram").with_overrides({"width": 65})
    with pytest.raises(SnapshotError, match="48x64"):
        Environment.restore(snapshot, expect=other)


def test_a_snapshot_of_another_channel_set_is_refused(snapshot: str) -> None:
    registry = default_registry()
    registry.register("SCENT", "instant", lambda ctx, out: out.fill(0))
    with pytest.raises(SnapshotError, match="channels"):
        Environment.restore(snapshot, channels=registry)


def test_a_corrupt_chunk_is_a_typed_error_and_leaves_no_files(snapshot: str, tmp_path: Path) -> None:
    data = Path(snapshot, generation_of(snapshot), "layers", "env", "OBSTACLES")
    chunk = next(p for p in data.rglob("*") if p.is_file() and p.name != "zarr.json")
    chunk.write_bytes(b"\x28\xb5\x2f\xfd" + os.urandom(64))  # a zstd magic number, then garbage
    target = tmp_path / "restored"
    with pytest.raises(SnapshotError, match="OBSTACLES.*corrupt|corrupt.*OBSTACLES"):
        Environment.restore(snapshot, backend="memmap", directory=str(target))
    assert not target.exists() or not any(target.iterdir())


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens here once the socket closes


def test_an_unreachable_endpoint_is_a_typed_error_in_seconds(snapshot: str) -> None:
    options = {"endpoint_url": f"http://127.0.0.1:{_closed_port()}", "key": "k", "secret": "s",
               "client_kwargs": {"region_name": "us-east-1"}}
    env, _ = worlds.build(worlds.config("ram"))
    started = time.monotonic()
    with env, pytest.raises(ObjectStoreError):
        env.snapshot("s3://nowhere/snap.zarr", storage_options=options)
    with pytest.raises(ObjectStoreError):
        Environment.restore("s3://nowhere/snap.zarr", storage_options=options)
    assert time.monotonic() - started < 60


def test_a_missing_bucket_is_a_typed_error(s3_server: CountingS3Server) -> None:
    env, _ = worlds.build(worlds.config("ram"))
    with env, pytest.raises(ObjectStoreError):
        env.snapshot("s3://no-such-bucket-here/snap.zarr", storage_options=s3_server.storage_options())
    with pytest.raises((ObjectStoreError, SnapshotError)):
        Environment.restore("s3://no-such-bucket-here/snap.zarr", storage_options=s3_server.storage_options())


AUTH_SERVER = """
import sys, time
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
time.sleep(300)
"""


def test_wrong_credentials_are_a_typed_error(tmp_path: Path) -> None:
    """A second server that checks credentials (moto's IAM emulation): a made-up key is refused."""
    server = subprocess.Popen([sys.executable, "-c", AUTH_SERVER], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0"})
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        options = {"endpoint_url": f"http://127.0.0.1:{port}", "key": "not-a-key", "secret": "wrong",
                   "client_kwargs": {"region_name": "us-east-1"}}
        env, _ = worlds.build(worlds.config("ram"))
        with env, pytest.raises(ObjectStoreError, match="(?i)denied|invalid|forbidden|signature|security|not exist in our records"):
            env.snapshot("s3://locked/snap.zarr", storage_options=options)
    finally:
        server.kill()
        server.wait(timeout=30)
