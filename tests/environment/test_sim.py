"""The seeded workload driver: reproducible, and it really moves, deposits, fights and eats."""

from __future__ import annotations

import numpy as np
import pytest

from farm_grids import InvalidGridSpecError
from farm_grids.environment import Environment
from farm_grids.sim import WorkloadDriver

from .conftest import make_config


def _run(tmp_path, backend: str, seed: int):
    with Environment(make_config(tmp_path / backend, backend, size=32)) as env:
        driver = WorkloadDriver(env, 200, teams=2, seed=seed)
        start = env.agents.ys.copy(), env.agents.xs.copy()
        stats = driver.run(10)
        state = (
            env.agents.ys.copy(), env.agents.xs.copy(), env.agents.hp.copy(), env.agents.alive.copy(),
            env.temporal.get("TRAILS").copy(), env.temporal.get("DAMAGE_HEAT").copy(),
            env.resources.get().copy(),
        )
        return start, stats, state


def test_driver_is_reproducible_and_backend_independent(tmp_path):
    _, stats_a, state_a = _run(tmp_path / "a", "ram", 3)
    _, stats_b, state_b = _run(tmp_path / "b", "memmap", 3)
    assert stats_a == stats_b
    assert all(np.array_equal(x, y) for x, y in zip(state_a, state_b))
    _, stats_c, _ = _run(tmp_path / "c", "ram", 4)
    assert stats_c != stats_a


def test_driver_moves_deposits_fights_and_consumes(tmp_path):
    start, stats, state = _run(tmp_path, "ram", 1)
    ys, xs, hp, alive, trails, heat, resources = state
    assert not (np.array_equal(ys, start[0]) and np.array_equal(xs, start[1]))
    assert np.abs(ys - start[0]).max() <= 10  # at most one cell per tick
    assert trails.any() and trails.max() <= 1.0
    assert sum(s.encounters for s in stats) > 0 and heat.any()
    assert (hp < 1.0).any()
    assert sum(s.consumed for s in stats) > 0
    assert [s.tick for s in stats] == list(range(1, 11))


@pytest.mark.parametrize("kwargs", [{"n_agents": -1}, {"n_agents": 5, "teams": 0}, {"n_agents": 5, "signal_fraction": 2.0}])
def test_driver_rejects_bad_arguments(tmp_path, kwargs):
    with Environment(make_config(tmp_path, "ram", size=16)) as env:
        with pytest.raises(InvalidGridSpecError):
            WorkloadDriver(env, **kwargs)
        assert env.num_agents == 0
