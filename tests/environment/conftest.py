"""Fixtures for environment tests: configs for every backend by name over a temp directory."""

from __future__ import annotations

import numpy as np
import pytest

from farm_grids.config import MemmapConfig, SimulationConfig
from farm_grids.environment import Environment


def make_config(
    tmp_path,
    backend: str,
    *,
    size: int = 48,
    overrides: dict | None = None,
    delete_on_close: bool = False,
) -> SimulationConfig:
    # "ram" leaves every manager on RAM; any other name switches them all onto that backend.
    use = backend != "ram"
    memmap = MemmapConfig(
        directory=str(tmp_path),
        backend=backend if use else "memmap",
        use_for_resources=use,
        use_for_environmental=use,
        use_for_temporal=use,
        delete_on_close=delete_on_close,
    )
    cfg = SimulationConfig(width=size, height=size, seed=7, memmap=memmap)
    return cfg.with_overrides(overrides) if overrides else cfg


def random_world(env: Environment, seed: int) -> None:
    """Set every environmental layer and scatter transient events, reproducibly."""
    rng = np.random.default_rng(seed)
    h, w = env.height, env.width
    env.set_environmental_layer("OBSTACLES", (rng.random((h, w)) < 0.1).astype(np.float32))
    env.set_environmental_layer("TERRAIN_COST", rng.random((h, w)).astype(np.float32))
    env.set_environmental_layer("VISIBILITY", rng.random((h, w)).astype(np.float32))
    for channel in ("DAMAGE_HEAT", "TRAILS", "ALLY_SIGNAL"):
        n = 200
        env.deposit_temporal_events(channel, rng.integers(0, h, n), rng.integers(0, w, n), rng.random(n))


def edge_agents(env: Environment, seed: int, n_random: int = 30) -> np.ndarray:
    """Agents in all four corners, along every edge, and at random cells, in two teams."""
    rng = np.random.default_rng(seed)
    h, w = env.height, env.width
    ys = [0, 0, h - 1, h - 1, 0, h - 1, h // 2, h // 2, 1, h - 2]
    xs = [0, w - 1, 0, w - 1, w // 2, w // 2, 0, w - 1, 1, w - 2]
    ys += rng.integers(0, h, n_random).tolist()
    xs += rng.integers(0, w, n_random).tolist()
    teams = rng.integers(0, 3, len(ys))
    hp = rng.uniform(0.1, 1.0, len(ys)).astype(np.float32)
    return env.add_agents(np.array(ys), np.array(xs), team=teams, hp=hp)


@pytest.fixture(params=["ram", "sparse-ram", "memmap", "tile-dict"])
def backend(request, tile_dict_backend) -> str:
    """Every backend by name: the built-ins and the chunked tile-dict test backend."""
    return request.param
