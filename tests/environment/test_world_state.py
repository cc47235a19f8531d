"""WorldState: an Environment exports its whole world as a value and is built back from it, on any backend."""

from __future__ import annotations

import dataclasses
from dataclasses import replace

import numpy as np
import pytest

from .conftest import make_config
from farm_grids import WorldState
from farm_grids.environment import Environment
from farm_grids.errors import InvalidGridSpecError
from farm_grids.observe import ChannelBehavior, default_registry
from farm_grids.sim import WorkloadDriver
from farm_grids.state import LazyMapping
from ..objectstore import worlds


def _print(env: Environment) -> dict[str, bytes]:
    """The world's fingerprint without the backend names (a world moved to another backend is the same world)."""
    return {key.split(":", 2)[0] + ":" + key.split(":", 2)[-1] if key.startswith("layer:") else key: value
            for key, value in worlds.fingerprint(env).items()}


def _driven(backend: str, tmp_path, *, temporal_world_layers: bool = True) -> Environment:
    env = Environment(make_config(tmp_path, backend), temporal_world_layers=temporal_world_layers)
    rng = np.random.default_rng(11)
    env.set_environmental_layer("OBSTACLES", (rng.random((48, 48)) < 0.1).astype(np.float32))
    WorkloadDriver(env, 25, seed=4).run(3)
    return env


@pytest.mark.parametrize("temporal_world_layers", [True, False])
@pytest.mark.parametrize(("source", "target"), [("ram", "ram"), ("memmap", "ram"), ("ram", "memmap")])
def test_from_state_rebuilds_the_world_bitwise(tmp_path, source, target, temporal_world_layers) -> None:
    with _driven(source, tmp_path / "a", temporal_world_layers=temporal_world_layers) as env:
        state = env.export_state()
        target_config = make_config(tmp_path / "b", target)
        moved = replace(state, config=replace(state.config, memmap=target_config.memmap))
        with Environment.from_state(moved) as rebuilt:
            assert _print(rebuilt) == _print(env)
            assert rebuilt.tick == env.tick == 3 and rebuilt.temporal_world_layers is temporal_world_layers
            assert {m.store.backend for m in rebuilt.managers} == {target}
            # The rebuilt world runs on exactly as the original does (the RNG came along).
            WorkloadDriver(env, 0).run(2)
            WorkloadDriver(rebuilt, 0).run(2)
            assert _print(rebuilt) == _print(env)


def test_the_state_is_a_frozen_value_independent_of_the_world(tmp_path) -> None:
    with _driven("ram", tmp_path) as env:
        state = env.export_state()
        assert isinstance(state, WorldState) and state.world == (48, 48) and state.tick == 3
        assert state.channels == env.channels.names and state.config is env.config
        with pytest.raises(dataclasses.FrozenInstanceError):
            state.tick = 5  # type: ignore[misc]
        ys = state.agents["ys"].copy()
        env.move_agents([0], [0], [0])
        env.update()
        assert np.array_equal(state.agents["ys"], ys) and state.tick == 3  # a copy, not a view
        assert set(state.layers) == {"env", "resources", "temporal"}
        assert list(state.layers["env"]) == ["OBSTACLES"] and "OBSTACLES" in state.layers["env"]


def test_lazy_layers_read_on_access_and_name_what_is_missing(tmp_path) -> None:
    reads: list[str] = []

    def load(name: str) -> np.ndarray:
        reads.append(name)
        if name != "A":
            raise KeyError(name)
        return np.zeros(2)

    grids = LazyMapping(["A"], load)
    assert "A" in grids and "B" not in grids and len(grids) == 1 and reads == []  # listing reads nothing
    assert grids["A"].shape == (2,) and reads == ["A"]
    with pytest.raises(KeyError):
        grids["B"]


def test_from_state_refuses_another_channel_set(tmp_path) -> None:
    with _driven("ram", tmp_path) as env:
        state = env.export_state()
    registry = default_registry()
    registry.register("EXTRA", ChannelBehavior.INSTANT, lambda ctx, out: out.fill(0))
    with pytest.raises(InvalidGridSpecError, match="EXTRA"):
        Environment.from_state(state, channels=registry)


def test_a_failed_load_closes_the_new_world_and_deletes_only_its_own_files(tmp_path) -> None:
    target = tmp_path / "b"
    target.mkdir()
    (target / "keep.txt").write_text("not ours")
    with _driven("ram", tmp_path / "a") as env:  # grids are read from the world's stores: while it is open
        state = env.export_state()
        bad = replace(state, config=replace(state.config, memmap=make_config(target, "memmap").memmap),
                      memories={"DAMAGE_HEAT": np.zeros((2, 3, 3), dtype=np.float32)})  # the wrong window size
        with pytest.raises(InvalidGridSpecError, match="memory of 'DAMAGE_HEAT'"):
            Environment.from_state(bad)
    assert [path.name for path in target.iterdir()] == ["keep.txt"]
