"""Items 7, 10: the manifest records a generation and a clean flag, is replaced atomically, and flags crashes."""

from __future__ import annotations

import contextlib
import hashlib
import json
import signal
import subprocess
import time
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from farm_grids.errors import UncleanShutdownWarning
from farm_grids.stores import MemmapStore

from .helpers import read_line, spawn


def recorded(manifest: Path) -> dict:
    return json.loads(manifest.read_text())


def checksum_ok(payload: dict) -> bool:
    body = {key: value for key, value in payload.items() if key != "checksum"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return payload.get("checksum") == "sha256:" + hashlib.sha256(text.encode()).hexdigest()


@contextlib.contextmanager
def no_unclean_warning() -> Iterator[None]:
    """An UncleanShutdownWarning inside the block is an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", UncleanShutdownWarning)
        yield


def test_generation_grows_and_clean_is_set_only_by_a_clean_close(tmp_path: Path) -> None:
    store = MemmapStore(tmp_path)
    store.create("a", (4, 4), fill=1.0)
    manifest = store.manifest_path
    steps = [recorded(manifest)]
    store.create("b", (4, 4), fill=2.0)
    steps.append(recorded(manifest))
    store.close("b", delete_file=True)
    steps.append(recorded(manifest))
    assert [s["clean"] for s in steps] == [False, False, False]  # open: a crash now would be unclean
    assert all(checksum_ok(s) for s in steps)
    assert steps[0]["generation"] < steps[1]["generation"] < steps[2]["generation"]
    assert set(steps[2]["grids"]) == {"a"}
    store.close_all()
    final = recorded(manifest)
    assert final["clean"] is True and final["generation"] > steps[2]["generation"]

    with no_unclean_warning():
        reopened = MemmapStore.open(manifest, "r+")
    info = reopened.store_info()
    assert info.clean is True and info.generation >= final["generation"]
    assert recorded(manifest)["clean"] is False  # reopened for writing: open again
    reopened.close_all()
    assert recorded(manifest)["clean"] is True


NO_FLUSH_WRITER = r"""
import sys
import numpy as np
from farm_grids.stores import MemmapStore
store = MemmapStore(sys.argv[1])
store.create("g", (128, 128))
store.create("h", (8, 8), fill=1.0)
print(store.manifest_path, flush=True)
k = 0
while True:  # never flushed, never closed
    k += 1
    store.write("g", np.full((128, 128), k, np.float32))
"""


@pytest.mark.parametrize("mode", ["r", "r+"])
def test_a_kill_mid_write_without_flush_is_reported_on_reopen(
    tmp_path: Path, children: list[subprocess.Popen[str]], mode: str
) -> None:
    writer = spawn(NO_FLUSH_WRITER, str(tmp_path))
    children.append(writer)
    manifest = Path(read_line(writer))
    time.sleep(0.2)
    writer.send_signal(signal.SIGKILL)
    assert writer.wait(timeout=30) == -signal.SIGKILL
    with pytest.warns(UncleanShutdownWarning, match="not closed cleanly"):
        store = MemmapStore.open(manifest, mode)
    try:
        assert store.store_info().clean is False
        assert (store.get("h") == 1.0).all()
        seen = np.unique(store.get("g"))
        assert seen.size <= 2 and (seen.size == 1 or seen[1] == seen[0] + 1), seen  # at most two generations
    finally:
        store.close_all()
    if mode == "r+":  # recovered and closed cleanly: the next open is quiet
        with no_unclean_warning(), MemmapStore.open(manifest, "r") as again:
            assert again.store_info().clean is True


def test_a_reader_of_a_live_writer_is_not_warned(tmp_path: Path) -> None:
    writer = MemmapStore(tmp_path)
    writer.create("g", (4, 4), fill=3.0)
    try:
        with no_unclean_warning(), MemmapStore.open(writer.manifest_path, "r") as reader:
            assert reader.store_info().writer_active is True
            assert (reader.get("g") == 3.0).all()
    finally:
        writer.close_all(delete_files=True)


CHURN = r"""
import sys, time
from farm_grids.stores import MemmapStore
store = MemmapStore(sys.argv[1])
store.create("keep", (4, 4), fill=1.0)
print(store.manifest_path, flush=True)
end = time.monotonic() + float(sys.argv[2])
i = 0
while time.monotonic() < end:
    store.create(f"g{i}", (4, 4 + i % 3), fill=float(i))
    if i % 2:
        store.close(f"g{i - 1}", delete_file=True)
    i += 1
print(i, flush=True)
store.close_all()
"""


def test_readers_only_ever_see_a_whole_manifest(tmp_path: Path, children: list[subprocess.Popen[str]]) -> None:
    writer = spawn(CHURN, str(tmp_path), "1.5")
    children.append(writer)
    manifest = Path(read_line(writer))
    reads, generations = 0, []
    while writer.poll() is None:
        try:
            text = manifest.read_text()
        except FileNotFoundError:
            pytest.fail("the manifest vanished while the writer rewrote it")
        payload = json.loads(text)  # never half a file
        assert checksum_ok(payload), "a reader saw a manifest whose checksum fails"
        assert "keep" in payload["grids"]
        generations.append(payload["generation"])
        reads += 1
    assert writer.wait(timeout=30) == 0
    assert reads > 20
    assert generations == sorted(generations)  # generations only ever grow
    assert recorded(manifest)["clean"] is True
