"""Environments on backends chosen by name (tile-dict, a RAM whose get() is a read-only copy) equal plain RAM bitwise."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from farm_grids.config import MemmapConfig, SimulationConfig
from farm_grids.environment import Environment
from farm_grids.sim import WorkloadDriver, TickStats
from farm_grids.stores import GridEntry, RamStore, register_backend, unregister_backend

from .conftest import random_world

TICKS = 20
READ_ONLY_GET = "ram-read-only-get"


class ReadOnlyGetRamStore(RamStore):
    """RAM whose ``get()`` hands out a read-only copy: a caller writing through it fails loudly."""

    backend = READ_ONLY_GET

    def dense_array(self, entry: GridEntry) -> np.ndarray:
        copy = super().dense_array(entry).copy()
        copy.flags.writeable = False
        return copy


def _read_only_get_factory(config: MemmapConfig, *, namespace: str, simulation_id: str | None) -> RamStore:
    return ReadOnlyGetRamStore(namespace=namespace, simulation_id=simulation_id, default_dtype=config.dtype)


@pytest.fixture(scope="module")
def read_only_get_backend() -> Iterator[str]:
    register_backend(READ_ONLY_GET, _read_only_get_factory)
    yield READ_ONLY_GET
    unregister_backend(READ_ONLY_GET)


def _config(directory: Path, backend: str, size: int) -> SimulationConfig:
    memmap = MemmapConfig(
        directory=str(directory), backend=backend,
        use_for_environmental=True, use_for_temporal=True, use_for_resources=True,
    )
    return SimulationConfig(width=size, height=size, seed=7, memmap=memmap)


def _bits(array: np.ndarray) -> bytes:
    """The exact bytes: -0.0 and 0.0 (or two NaNs) must not compare equal by accident."""
    return np.ascontiguousarray(array).tobytes()


def _layers(env: Environment) -> dict[str, bytes]:
    """Every grid of every manager (and the HP rasters), read through the interface every backend has."""
    layers = {
        f"{type(manager).__name__}/{name}": _bits(manager.store.read(name))
        for manager in env.managers
        for name in manager.names()
    }
    layers.update({f"hp/{name}": _bits(env.hp_raster.store.read(name)) for name in env.hp_raster.store.names()})
    return layers


def _run(env: Environment, size: int) -> tuple[list[bytes], list[TickStats]]:
    """Environmental layers first, then 20 driver ticks of ~40 agents in 2 teams, observing every tick."""
    random_world(env, seed=size)
    driver = WorkloadDriver(env, 40, teams=2, seed=3)
    observations, stats = [], []
    for _ in range(TICKS):
        stats.append(driver.step())
        observations.append(_bits(env.observe_all().numpy()))
    return observations, stats


@pytest.mark.parametrize("size", [64, 96])
def test_a_tile_dict_environment_observes_bitwise_like_ram(tmp_path: Path, tile_dict_backend: str, size: int) -> None:
    with Environment(_config(tmp_path / "ram", "ram", size)) as ram, \
            Environment(_config(tmp_path / "tiles", tile_dict_backend, size)) as tiles:
        assert {manager.store.backend for manager in tiles.managers} == {tile_dict_backend}
        assert all(manager.store.layout == "tiles" for manager in tiles.managers)
        expected_obs, expected_stats = _run(ram, size)
        observed, stats = _run(tiles, size)
        assert stats == expected_stats
        assert sum(s.encounters for s in stats) > 0 and sum(s.consumed for s in stats) > 0  # the workload did work
        for tick, (got, want) in enumerate(zip(observed, expected_obs), start=1):
            assert got == want, f"observe_all differs at tick {tick}"
        expected_layers = _layers(ram)
        assert _layers(tiles) == expected_layers
        assert len(expected_layers) >= 7


def test_no_caller_writes_through_get(tmp_path: Path, read_only_get_backend: str) -> None:
    with Environment(_config(tmp_path / "ram", "ram", 64)) as ram, \
            Environment(_config(tmp_path / "ro", read_only_get_backend, 64)) as guarded:
        assert {manager.store.backend for manager in guarded.managers} == {read_only_get_backend}
        expected_obs, expected_stats = _run(ram, 64)
        observed, stats = _run(guarded, 64)
        assert stats == expected_stats
        assert observed == expected_obs
        assert _layers(guarded) == _layers(ram)
        # The guard is real: what get() (and create()) hand out cannot be written.
        store = guarded.temporal.store
        name = guarded.temporal.names()[0]
        with pytest.raises(ValueError, match="read-only"):
            store.get(name)[0, 0] = 1.0
        created = store.create("probe", (2, 2))
        assert created is not None and not created.flags.writeable
