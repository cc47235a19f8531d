"""Environment files, close/delete_on_close, reset, and bad input that leaves the world unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from farm_grids import GridNotFoundError, InvalidGridSpecError, MemmapStore
from farm_grids.agents import UnknownAgentError
from farm_grids.observe.channels import UnknownChannelError
from farm_grids.environment import Environment
from farm_grids.errors import ConfigError, GridFileMissingError, StorageDirectoryError

from .conftest import edge_agents, make_config, random_world


def test_delete_on_close_removes_every_file(tmp_path):
    env = Environment(make_config(tmp_path, "memmap", delete_on_close=True))
    random_world(env, 0)
    files = env.files()
    assert len(files) >= 7 and all(p.exists() for p in files)
    env.close()
    assert list(tmp_path.iterdir()) == []


def test_keep_files_and_reopen(tmp_path):
    env = Environment(make_config(tmp_path, "memmap", delete_on_close=False))
    random_world(env, 0)
    obstacles = env.environmental.get("OBSTACLES").copy()
    heat = env.temporal.get("DAMAGE_HEAT").copy()
    env.update()
    manifests = {m.store.namespace: m.store.manifest_path for m in env.managers}
    env.close()
    with MemmapStore.open(manifests["env"], mode="r") as reader:
        assert np.array_equal(reader.get("OBSTACLES"), obstacles)
    gamma = np.float32(env.config.observation.gamma_dmg)
    with MemmapStore.open(manifests["temporal"], mode="r") as reader:
        assert np.array_equal(reader.get("DAMAGE_HEAT"), heat * gamma)


def test_reset_clears_agents_and_events(tmp_path):
    with Environment(make_config(tmp_path, "ram")) as env:
        before = env.resources.get().copy()
        random_world(env, 1)
        edge_agents(env, 1)
        env.resources.consume([0, 1, 2], [0, 1, 2], [5.0, 5.0, 5.0])
        env.update()
        env.reset()
        assert env.num_agents == 0 and env.tick == 0
        assert not env.temporal.get("TRAILS").any()
        assert np.array_equal(env.resources.get(), before)
        assert env.environmental.is_set("OBSTACLES")


def _snapshot(env):
    return (
        env.num_agents,
        env.agents.ys.copy(),
        env.agents.hp.copy(),
        {name: env.environmental.store.read(name) for name in env.environmental.names()},
        env.observe_all().clone(),
    )


def _same(a, b):
    assert a[0] == b[0]
    assert np.array_equal(a[1], b[1]) and np.array_equal(a[2], b[2])
    assert a[3].keys() == b[3].keys() and all(np.array_equal(a[3][k], b[3][k]) for k in a[3])
    assert torch.equal(a[4], b[4])


@pytest.mark.parametrize(
    "action, error",
    [
        (lambda env: env.observe(10_000), UnknownAgentError),
        (lambda env: env.observe(env.num_agents), UnknownAgentError),  # one past the last id
        (lambda env: env.kill([env.num_agents]), UnknownAgentError),
        (lambda env: env.observe(-1), GridNotFoundError),
        (lambda env: env.move_agents([0], [999], [0]), InvalidGridSpecError),
        (lambda env: env.add_agents([0, 1], [0, 48]), InvalidGridSpecError),
        (lambda env: env.add_agents([-1], [0]), InvalidGridSpecError),
        (lambda env: env.add_agents([0, 1], [0]), InvalidGridSpecError),
        (lambda env: env.add_agents([0], [0], hp=float("nan")), InvalidGridSpecError),
        (lambda env: env.add_agents([0], [0], hp=1e39), InvalidGridSpecError),  # hp is float32: no 1e39
        (lambda env: env.add_agents([0.5], [0]), InvalidGridSpecError),
        (lambda env: env.set_hp([0], -1.0), InvalidGridSpecError),
        (lambda env: env.kill([99999]), UnknownAgentError),
        (lambda env: env.set_environmental_layer("OBSTACLES", np.ones((3, 3))), InvalidGridSpecError),
        (lambda env: env.set_environmental_layer("LAVA", np.ones((48, 48))), GridNotFoundError),
        (lambda env: env.deposit_temporal_events("SMELL", [1], [1], 1.0), GridNotFoundError),
        (lambda env: env.deposit_temporal_events("TRAILS", [1], [1], 1.0, clip_max=-1.0), InvalidGridSpecError),
        (lambda env: env.deposit_temporal_events("TRAILS", [1, 2], [1], 1.0), InvalidGridSpecError),
        (lambda env: env.channels.index("SMELL"), UnknownChannelError),
    ],
)
@pytest.mark.parametrize("dense", [True, False])
def test_bad_input_is_typed_and_changes_nothing(tmp_path, backend, action, error, dense):
    with Environment(make_config(tmp_path, backend), temporal_world_layers=dense) as env:
        random_world(env, 2)
        edge_agents(env, 2)
        before = _snapshot(env)
        with pytest.raises(error):
            action(env)
        _same(before, _snapshot(env))


def test_a_team_that_is_not_an_integer_is_refused_by_name(tmp_path):
    with Environment(make_config(tmp_path, "ram")) as env:
        with pytest.raises(InvalidGridSpecError, match="team must hold integers, got dtype float64"):
            env.add_agents([0], [0], team=0.5)
        assert env.num_agents == 0


def test_unknown_errors_are_key_and_value_errors():
    assert issubclass(UnknownAgentError, KeyError)
    assert issubclass(UnknownChannelError, KeyError)
    assert issubclass(InvalidGridSpecError, ValueError)


def test_memmap_setup_failure_raises_and_never_falls_back(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    cfg = make_config(blocker, "memmap")
    with pytest.raises(StorageDirectoryError):
        Environment(cfg)


def test_reopen_in_place_finds_its_own_run_among_others_in_the_directory(tmp_path):
    """memmap.mode r+ / r pick the run by simulation_id (its manifests' names), never a neighbour's files."""
    layers = {}
    for run, seed in (("alpha", 0), ("beta", 1)):
        env = Environment(make_config(tmp_path, "memmap", overrides={"simulation_id": run}))
        random_world(env, seed)
        layers[run] = env.environmental.get("OBSTACLES").copy()
        env.close()
    assert not np.array_equal(layers["alpha"], layers["beta"])
    for mode in ("r+", "r"):
        for run in ("alpha", "beta"):
            cfg = make_config(tmp_path, "memmap", overrides={"simulation_id": run, "memmap.mode": mode})
            with Environment(cfg) as reopened:
                np.testing.assert_array_equal(reopened.environmental.get("OBSTACLES"), layers[run],
                                              err_msg=f"{run} reopened {mode}")


@pytest.mark.parametrize("backend", ["ram", "memmap"])
def test_a_local_snapshot_restores_agents_resources_and_observations(tmp_path, backend):
    """In process, on a local path: agents (dead ones too), resources and what every agent sees come back."""
    with Environment(make_config(tmp_path / "run", backend)) as env:
        random_world(env, 3)
        edge_agents(env, 3)
        env.kill([1])
        env.set_hp([0], [0.375])
        env.resources.consume([0, 5, 9], [0, 5, 9], [1.0, 2.5, 0.5])
        env.update()
        agents, resources = env.agents.export_state(), env.resources.export_state()
        observed = env.observe_all().numpy().copy()
        env.snapshot(str(tmp_path / "state.zarr"))
    with Environment.restore(str(tmp_path / "state.zarr"), directory=str(tmp_path / "restored")) as back:
        for column, values in agents.items():
            np.testing.assert_array_equal(getattr(back.agents, column), values, err_msg=column)
        for key, values in resources.items():
            np.testing.assert_array_equal(back.resources.export_state()[key], values, err_msg=key)
        np.testing.assert_array_equal(back.observe_all().numpy(), observed)


def test_reopen_modes_need_a_saved_run_to_reopen(tmp_path):
    """memmap.mode r+/r resume a run in place (tests/objectstore); with nothing saved they refuse."""
    cfg = make_config(tmp_path, "memmap", overrides={"memmap.mode": "r+", "simulation_id": "absent"})
    with pytest.raises(GridFileMissingError, match="manifest_absent"):
        Environment(cfg)
    unnamed = make_config(tmp_path, "memmap", overrides={"memmap.mode": "r", "simulation_id": None})
    with pytest.raises(InvalidGridSpecError, match="simulation_id"):
        Environment(unnamed)
    assert not any(p.suffix in (".dat", ".json") for p in Path(cfg.memmap.directory).glob("*"))


def test_cuda_device_without_cuda_is_an_error(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("CUDA is present here")
    # Refused when the config is made, before any environment (tests/reliability/test_api_edges.py).
    with pytest.raises(ConfigError, match="CUDA"):
        make_config(tmp_path, "ram", overrides={"observation.device": "cuda"})
