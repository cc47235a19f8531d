"""Resume is exact: 10 ticks, snapshot, restore in a fresh process, 10 more == 20 uninterrupted, bitwise."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from farm_grids.environment import Environment
from farm_grids.snapshot import generation_of

from . import worlds
from .s3server import CountingS3Server

WORLDS_MODULE = Path(worlds.__file__)
TICKS = 10


@pytest.fixture(scope="module")
def uninterrupted() -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    return worlds.reference(2 * TICKS)


def _run_first_half(backend: str, directory: str | None, url: str, storage_options: object) -> list[np.ndarray]:
    env, driver = worlds.build(worlds.config(backend, directory), storage_options)
    with env:
        observed = []
        for _ in range(TICKS):
            driver.step()
            observed.append(env.observe_all().numpy().copy())
        env.snapshot(url, storage_options=storage_options)
    return observed


def _restore_in_child(url: str, backend: str, directory: str, out: Path, storage_options: object) -> np.lib.npyio.NpzFile:
    args = [sys.executable, str(WORLDS_MODULE), url, backend, directory, str(TICKS), str(out)]
    if storage_options is not None:
        args.append(json.dumps(storage_options))
    done = subprocess.run(args, capture_output=True, text=True, timeout=180, check=False,
                          env={**__import__("os").environ, "PYTHONPATH": str(WORLDS_MODULE.parents[2])})
    assert done.returncode == 0, done.stderr
    return np.load(out)


def _check(first: list[np.ndarray], saved: np.lib.npyio.NpzFile, reference: tuple[list[np.ndarray], dict]) -> None:
    observed, final_layers = reference
    for tick in range(TICKS):
        np.testing.assert_array_equal(first[tick], observed[tick])
    assert int(saved["tick"]) == 2 * TICKS
    for tick in range(TICKS):
        np.testing.assert_array_equal(saved["observations"][tick], observed[TICKS + tick], err_msg=f"tick {TICKS + tick}")
    for name, value in final_layers.items():
        np.testing.assert_array_equal(saved[f"layer_{name}"], value, err_msg=name)


@pytest.mark.parametrize(("source", "target"), [("ram", "ram"), ("memmap", "memmap"), ("ram", "zarr")])
def test_resume_from_a_local_snapshot_is_bitwise_exact(tmp_path: Path, uninterrupted, source: str, target: str) -> None:
    url = str(tmp_path / "snapshot.zarr")
    first = _run_first_half(source, str(tmp_path / "before") if source != "ram" else None, url, None)
    saved = _restore_in_child(url, target, str(tmp_path / "after"), tmp_path / "run.npz", None)
    _check(first, saved, uninterrupted)
    assert not (tmp_path / "after").exists() or not any((tmp_path / "after").rglob("*.dat"))  # deleted on close


@pytest.mark.parametrize(("source", "target"), [("ram", "ram"), ("memmap", "memmap"), ("ram", "zarr")])
def test_resume_from_a_snapshot_on_s3_is_bitwise_exact(
    tmp_path: Path, uninterrupted, s3_server: CountingS3Server, bucket: str, source: str, target: str
) -> None:
    options = s3_server.storage_options()
    url = f"s3://{bucket}/runs/snapshot.zarr"
    first = _run_first_half(source, str(tmp_path / "before") if source != "ram" else None, url, options)
    # A zarr target keeps the resumed world on the server too.
    directory = f"s3://{bucket}/resumed" if target == "zarr" else str(tmp_path / "after")
    saved = _restore_in_child(url, target, directory, tmp_path / "run.npz", options)
    _check(first, saved, uninterrupted)
    data = generation_of(url, storage_options=options)
    assert any(path.startswith(f"/{bucket}/runs/snapshot.zarr/{data}/layers/")
               for (_, method, path) in s3_server.log.counts if method == "PUT")


def test_a_memmap_run_resumes_in_place_from_its_manifests(tmp_path: Path, uninterrupted) -> None:
    """memmap.mode r+ reopens the run's own files; the snapshot then restores agents, tick and RNG."""
    directory = str(tmp_path / "run")
    cfg = worlds.config("memmap", directory).with_overrides({"memmap.delete_on_close": False})
    env, driver = worlds.build(cfg)
    for _ in range(TICKS):
        driver.step()
    env.snapshot(str(tmp_path / "state.zarr"))
    env.close()
    files_before = sorted(p.name for p in Path(directory).glob("*.dat"))
    reopened = Environment(cfg.with_overrides({"memmap.mode": "r+"}))
    with reopened:
        assert sorted(p.name for p in reopened.files()) == files_before  # the same files, not copies
        state = Environment.restore(str(tmp_path / "state.zarr"))  # agents, tick, RNG, memories
        with state:
            reopened.agents.load_state(state.agents.export_state())
            reopened.temporal.load_state(state.temporal.export_state())
            reopened.resources.load_state(state.resources.export_state())
            reopened.load_memory_state(state.memory_state())
            reopened.tick, reopened.rng = state.tick, state.rng
        from farm_grids.sim import WorkloadDriver

        resumed = WorkloadDriver.resume(reopened)
        observed, _ = uninterrupted
        for tick in range(TICKS, 2 * TICKS):
            resumed.step()
            np.testing.assert_array_equal(reopened.observe_all().numpy(), observed[tick], err_msg=f"tick {tick}")
