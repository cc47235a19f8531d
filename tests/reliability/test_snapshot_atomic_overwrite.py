"""snapshot(overwrite=True) is atomic: a SIGKILL at any moment leaves the old or the new snapshot restorable, bitwise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from farm_grids.environment import Environment
from ..objectstore import worlds
from ..objectstore.s3server import CountingS3Server

TRIALS = 24
S3_TRIALS = 10  # each trial costs ~1 s against the test server (write, then a verified restore)

# One child imports farm-grids and builds two worlds once; per trial it forks a grandchild that
# overwrites the snapshot with one of them, and SIGKILLs it after the delay the test sends.
WRITER = r"""
import json, os, signal, sys, time
from tests.objectstore import worlds
url, options = sys.argv[1], json.loads(sys.argv[2])
envs = []
for ticks in (2, 5):
    env, driver = worlds.build(worlds.config("ram"))
    driver.run(ticks)
    envs.append(env)
envs[0].snapshot(url, storage_options=options)
started = time.perf_counter()
envs[1].snapshot(url, storage_options=options, overwrite=True)
envs[0].snapshot(url, storage_options=options, overwrite=True)
print(json.dumps({"seconds": (time.perf_counter() - started) / 2}), flush=True)
for line in sys.stdin:
    which, delay = json.loads(line)
    pid = os.fork()
    if pid == 0:
        try:
            envs[which].snapshot(url, storage_options=options, overwrite=True)
        except BaseException as exc:
            print(f"grandchild: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            os._exit(1)
        os._exit(0)
    time.sleep(delay)
    os.kill(pid, signal.SIGKILL)  # a grandchild that already finished is a zombie: the kill is harmless
    _, status = os.waitpid(pid, 0)
    print(json.dumps("killed" if os.WIFSIGNALED(status) else "finished" if status == 0 else "failed"), flush=True)
"""


def _references() -> list[dict[str, bytes]]:
    """The two worlds the writer builds (same seeds, same ticks), as fingerprints."""
    found = []
    for ticks in (2, 5):
        env, driver = worlds.build(worlds.config("ram"))
        with env:
            driver.run(ticks)
            found.append(worlds.fingerprint(env))
    return found


@pytest.fixture(scope="module")
def references() -> list[dict[str, bytes]]:
    return _references()


@contextmanager
def _writer(url: str, options: Any) -> Iterator[subprocess.Popen[str]]:
    root = str(Path(worlds.__file__).parents[2])
    path = os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), root]))
    child = subprocess.Popen([sys.executable, "-c", WRITER, url, json.dumps(options)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": path})
    try:
        yield child
    finally:
        child.kill()
        child.wait(timeout=30)


def _kill_trials(url: str, options: Any, references: list[dict[str, bytes]], trials: int) -> dict[str, int]:
    rng = np.random.default_rng(23)
    outcomes = {"killed-old": 0, "killed-new": 0, "finished": 0}
    with _writer(url, options) as child:
        assert child.stdin is not None and child.stdout is not None
        seconds = json.loads(child.stdout.readline())["seconds"]
        current = 0  # the writer's last overwrite wrote world 0
        for _ in range(trials):
            new = 1 - current
            # Delays across the whole write (and a little past it): every phase gets hit.
            child.stdin.write(json.dumps([new, float(rng.uniform(0.0, 1.2 * seconds))]) + "\n")
            child.stdin.flush()
            ended = json.loads(child.stdout.readline())
            assert ended != "failed", "the overwrite raised (its error is on the writer's stderr)"
            with Environment.restore(url, storage_options=options or None) as restored:
                found = worlds.fingerprint(restored)
            assert found in (references[current], references[new]), "restored neither the old nor the new world"
            landed = references.index(found)
            outcomes["finished" if ended == "finished" else f"killed-{'new' if landed == new else 'old'}"] += 1
            assert ended == "killed" or landed == new, "a finished overwrite must leave the new world"
            current = landed
    return outcomes


def test_sigkill_during_a_local_overwrite_leaves_the_old_or_the_new_snapshot(
        tmp_path: Path, references: list[dict[str, bytes]]) -> None:
    url = str(tmp_path / "snap.zarr")
    outcomes = _kill_trials(url, None, references, TRIALS)
    assert outcomes["killed-old"] >= 3, f"too few kills landed before the switch: {outcomes}"
    # A later overwrite tidies what killed writers left: the root document and one generation
    # (a kill between a generation's mkdir and its marker leaves an empty directory: nothing).
    env, _ = worlds.build(worlds.config("ram"))
    with env:
        env.snapshot(url, overwrite=True)
    held = [entry for entry in os.listdir(url) if not Path(url, entry).is_dir() or any(Path(url, entry).iterdir())]
    assert len(held) == 2, held


def test_sigkill_during_an_overwrite_on_s3_leaves_the_old_or_the_new_snapshot(
        s3_server: CountingS3Server, bucket: str, references: list[dict[str, bytes]]) -> None:
    options = s3_server.storage_options()
    outcomes = _kill_trials(f"s3://{bucket}/snap.zarr", options, references, S3_TRIALS)
    assert outcomes["killed-old"] >= 2, f"too few kills landed before the switch: {outcomes}"
