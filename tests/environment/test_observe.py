"""observe_all against per-agent observe, RAM against memmap, dense against sparse."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from farm_grids.observe import ChannelBehavior, default_registry
from farm_grids.environment import Environment
from farm_grids.errors import InvalidGridSpecError, UnknownChannelError
from farm_grids.sim import WorkloadDriver

from .conftest import edge_agents, make_config, random_world
from .reference import model_of


def test_default_channels_in_order(tmp_path):
    with Environment(make_config(tmp_path, "ram")) as env:
        assert env.channels.names == (
            "SELF_HP", "ALLIES_HP", "ENEMIES_HP", "RESOURCES", "OBSTACLES", "TERRAIN_COST",
            "VISIBILITY", "KNOWN_EMPTY", "DAMAGE_HEAT", "TRAILS", "ALLY_SIGNAL", "GOAL", "LANDMARKS",
        )
        assert env.observe_all().shape == (0, 13, 13, 13)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_observe_all_equals_stacked_observe(tmp_path, backend, seed):
    with Environment(make_config(tmp_path, backend, size=40 + seed)) as env:
        random_world(env, seed)
        ids = edge_agents(env, seed)
        env.kill(ids[5])
        batch = env.observe_all()
        stacked = torch.stack([env.observe(int(i)) for i in ids])
        assert batch.shape == (len(ids), 13, 13, 13)
        assert torch.equal(batch, stacked)
        assert not batch[5].any(), "a dead agent observes zeros"
        assert batch[0].any()


def grids_in_files(env: Environment) -> dict[str, np.ndarray]:
    """Every grid of a file-backed environment as its file holds it (read with plain file I/O)."""
    env.flush()
    grids = {}
    for manager in env.managers:
        for name in manager.names():
            info = manager.store.info(name)
            assert info.path is not None and info.path.is_file(), f"{name} has no file"
            grids[name] = np.fromfile(info.path, dtype=info.dtype).reshape(info.shape)
    return grids


def naive_observations(env: Environment, grids: dict[str, np.ndarray], agents: range) -> np.ndarray:
    """The observations of ``agents`` computed cell by cell from ``grids`` (reference.ModelWorld)."""
    model = model_of(env, grids)
    return np.stack([model.observation(i) for i in agents])


def test_ram_and_memmap_bitwise_equal_over_20_ticks(tmp_path):
    results, layers = {}, {}
    for backend in ("ram", "memmap"):
        with Environment(make_config(tmp_path / backend, backend, size=64)) as env:
            random_world(env, 3)
            driver = WorkloadDriver(env, 120, teams=3, seed=11)
            frames = []
            at_start = grids_in_files(env) if backend == "memmap" else None
            for tick in range(20):
                driver.step()
                frames.append(env.observe_all().clone())
                if backend == "memmap" and tick in (0, 19):
                    # The backend is really in use: the files hold the world, and observations
                    # equal a naive cell-by-cell reference computed from the files' bytes.
                    on_disk = grids_in_files(env)
                    for manager in env.managers:
                        for name in manager.names():
                            np.testing.assert_array_equal(on_disk[name], manager.store.read(name), err_msg=name)
                    sample = range(0, 120, 12)
                    np.testing.assert_allclose(frames[-1][list(sample)].numpy(),
                                               naive_observations(env, on_disk, sample), rtol=1e-6, atol=0)
            results[backend] = torch.stack(frames)
            layers[backend] = {f"{type(m).__name__}/{n}": m.store.read(n) for m in env.managers for n in m.names()}
            if backend == "memmap":
                assert env.files(), "memmap environment must create files"
                assert all(m.has_memmap for m in env.managers)
                changed = [name for name, grid in grids_in_files(env).items()
                           if not np.array_equal(grid, at_start[name])]
                assert {"TRAILS", "RESOURCES"} <= set(changed), f"files that changed over 20 ticks: {changed}"
    assert torch.equal(results["ram"], results["memmap"])
    assert layers["ram"].keys() == layers["memmap"].keys()
    for name, grid in layers["ram"].items():
        np.testing.assert_array_equal(layers["memmap"][name], grid, err_msg=name)
    assert results["ram"][:, :, 9].any(), "trails must show up"


def test_dense_and_sparse_transient_paths_agree(tmp_path):
    observations = []
    for dense in (True, False):
        env = Environment(make_config(tmp_path, "ram"), temporal_world_layers=dense)
        with env:
            ids = edge_agents(env, 5)
            rng = np.random.default_rng(9)
            for channel in ("DAMAGE_HEAT", "TRAILS", "ALLY_SIGNAL"):
                for _ in range(3):
                    n = 80
                    env.deposit_temporal_events(
                        channel, rng.integers(-2, 50, n), rng.integers(-2, 50, n), rng.random(n)
                    )
                env.update()
            observations.append(env.observe_all())
            assert torch.equal(observations[-1], torch.stack([env.observe(int(i)) for i in ids]))
    assert torch.equal(observations[0], observations[1])
    assert observations[0][:, 8:11].any()


@pytest.mark.parametrize("dense", [True, False])
def test_world_driven_channel_decays_exactly_once_per_tick(tmp_path, dense):
    cfg = make_config(tmp_path, "ram")
    with Environment(cfg, temporal_world_layers=dense) as env:
        assert env.world_driven_channels == {"DAMAGE_HEAT", "TRAILS", "ALLY_SIGNAL"}
        (agent,) = env.add_agents([10], [10])
        env.deposit_temporal_events("TRAILS", [12], [11], 1.0)
        trails = env.channels.index("TRAILS")
        r = cfg.observation.radius
        gamma = np.float32(cfg.observation.gamma_trail)
        expected = np.float32(1.0)
        for _ in range(4):
            env.update()
            expected = expected * gamma
            value = env.observe(agent)[trails, r + 2, r + 1].item()
            assert value == pytest.approx(float(expected), rel=1e-6)  # double decay would give expected**2


def test_custom_dynamic_channel_decays_per_agent(tmp_path):
    registry = default_registry()

    def beacon(ctx, out):
        out[...] = 0
        out[:, ctx.radius, ctx.radius] = np.where(ctx.sources.tick == 0, 1.0, 0.0)

    index = registry.register("BEACON", ChannelBehavior.DYNAMIC, beacon, gamma=0.5)
    assert "BEACON" in registry and "BEACONS" not in registry
    with Environment(make_config(tmp_path, "ram"), channels=registry) as env:
        (agent,) = env.add_agents([5], [5])
        r = env.config.observation.radius
        assert env.observe(agent)[index, r, r].item() == 1.0
        assert "BEACON" not in env.world_driven_channels
        env.update()
        assert env.observe(agent)[index, r, r].item() == 0.5
        env.update()
        assert env.observe(agent)[index, r, r].item() == 0.25


@pytest.mark.parametrize(("gamma", "fragment"), [(None, "needs a finite gamma"), (0.0, "(0, 1], got 0.0"),
                                               (1.5, "(0, 1], got 1.5"), (float("nan"), "finite")])
def test_a_dynamic_channel_with_a_bad_gamma_is_refused_by_name(gamma, fragment):
    registry = default_registry()
    before = list(registry.names)
    with pytest.raises(InvalidGridSpecError, match=re.escape(fragment)) as info:
        registry.register("BEACON", ChannelBehavior.DYNAMIC, lambda ctx, out: None, gamma=gamma)
    assert "'BEACON'" in str(info.value)
    assert list(registry.names) == before


def test_channel_semantics(tmp_path):
    cfg = make_config(tmp_path, "ram", size=30)
    with Environment(cfg) as env:
        r = cfg.observation.radius
        a, _, c = env.add_agents([10, 10, 11], [10, 12, 10], team=[0, 0, 1], hp=[0.5, 0.25, 0.75])
        obs = env.observe_all().numpy()
        idx = env.channels.index
        assert obs[a, idx("SELF_HP"), r, r] == 0.5
        assert obs[a, idx("ALLIES_HP"), r, r + 2] == 0.25
        assert obs[a, idx("ALLIES_HP"), r, r] == 0.0, "self is not its own ally"
        assert obs[a, idx("ENEMIES_HP"), r + 1, r] == 0.75
        assert obs[c, idx("ENEMIES_HP"), r - 1, r] == 0.5
        # Unset VISIBILITY layer: the fov disk; outside the disk is zero.
        assert obs[a, idx("VISIBILITY"), r, r] == 1.0
        assert obs[a, idx("VISIBILITY"), 0, 0] == 0.0
        env.set_environmental_layer("VISIBILITY", np.full((30, 30), 0.5, np.float32))
        assert env.observe(a)[idx("VISIBILITY"), r, r].item() == 0.5
        # Resources are normalised by the cap.
        env.resources.get()[10, 11] = env.resources.max_amount / 2
        assert env.observe(a)[idx("RESOURCES"), r, r + 1].item() == 0.5


def naive_team_hp(env, agent: int, *, allies: bool) -> np.ndarray:
    """Allies' or enemies' HP around ``agent`` by looping over every living agent."""
    r = env.config.observation.radius
    window = np.zeros((2 * r + 1, 2 * r + 1), np.float32)
    agents = env.agents
    for other in np.flatnonzero(agents.alive).tolist():
        same = agents.team[other] == agents.team[agent]
        dy, dx = agents.ys[other] - agents.ys[agent], agents.xs[other] - agents.xs[agent]
        if other != agent and same == allies and abs(dy) <= r and abs(dx) <= r:
            window[dy + r, dx + r] += agents.hp[other]
    return window


@pytest.mark.parametrize("teams", [[0, 0, 0, 0], [0, 1, 2, 2], [3, 1, 0, 1]])
def test_team_hp_channels_match_a_naive_loop(tmp_path, teams):
    # Three or more teams sum every other team's raster; a lone team sees no enemies. Agents 0
    # and 1 share a cell, and agent 3 sits at the world's corner (an edge window).
    with Environment(make_config(tmp_path, "ram", size=24)) as env:
        env.add_agents([5, 5, 7, 0], [5, 5, 3, 0], team=teams, hp=[0.5, 0.25, 0.125, 1.0])
        batched = env.observe_all().numpy()
        for agent in range(4):
            single = env.observe(agent).numpy()
            for channel, allies in (("ALLIES_HP", True), ("ENEMIES_HP", False)):
                expected = naive_team_hp(env, agent, allies=allies)
                np.testing.assert_array_equal(batched[agent, env.channels.index(channel)], expected)
                np.testing.assert_array_equal(single[env.channels.index(channel)], expected)


def test_observation_tensor_is_zero_copy_float32(tmp_path):
    with Environment(make_config(tmp_path, "memmap")) as env:
        edge_agents(env, 1)
        batch = env.observe_all()
        assert batch.dtype == torch.float32
        array = batch.numpy()
        array[0, 0, 0, 0] = 42.0
        assert batch[0, 0, 0, 0].item() == 42.0
        assert torch.nn.functional.conv2d(batch, torch.ones(1, 13, 3, 3)).shape[0] == batch.shape[0]


def test_other_dtype_converts(tmp_path):
    cfg = make_config(tmp_path, "ram", overrides={"observation.dtype": "float16"})
    with Environment(cfg) as env:
        env.add_agents([1], [1])
        assert env.observe_all().dtype == torch.float16
        assert env.observe(0).dtype == torch.float16


def test_observe_all_refills_a_reused_tensor(tmp_path, backend):
    with Environment(make_config(tmp_path, backend)) as env:
        random_world(env, 4)
        ids = edge_agents(env, 4)
        env.kill(ids[3])
        fresh = env.observe_all()
        reused = torch.full(fresh.shape, 7.0)
        assert env.observe_all(out=reused) is reused
        assert torch.equal(reused, fresh)


@pytest.mark.parametrize(
    "bad",
    [
        lambda shape: torch.zeros(shape, dtype=torch.float64),
        lambda shape: torch.zeros((shape[0] + 1,) + shape[1:]),
        lambda shape: torch.zeros(shape[::-1]).permute(3, 2, 1, 0),
        lambda shape: np.zeros(shape, dtype=np.float32),
    ],
)
def test_observe_all_rejects_a_bad_out(tmp_path, bad):
    from farm_grids import InvalidGridSpecError

    with Environment(make_config(tmp_path, "ram")) as env:
        edge_agents(env, 0)
        with pytest.raises(InvalidGridSpecError):
            env.observe_all(out=bad(env.observation_shape()))


def test_a_behaviour_given_by_name_is_the_named_behaviour():
    registry = default_registry()
    index = registry.register("BEACON", "dynamic", lambda ctx, out: None, gamma=0.5)
    assert registry.names[index] == "BEACON"
    assert registry.spec("BEACON").behavior is ChannelBehavior.DYNAMIC and registry.spec("BEACON").gamma == 0.5
    with pytest.raises(InvalidGridSpecError, match="'LAMP' needs a finite gamma"):
        registry.register("LAMP", "Dynamic", lambda ctx, out: None)  # a dynamic channel by name needs its gamma
    with pytest.raises(InvalidGridSpecError, match="unknown channel behaviour 'glowing'"):
        registry.register("GLOW", "glowing", lambda ctx, out: None)
    assert "LAMP" not in registry and "GLOW" not in registry


def test_an_unknown_channel_error_lists_the_known_channels():
    registry = default_registry()
    with pytest.raises(UnknownChannelError, match=re.escape(f"unknown channel 'SMELL' (known: {', '.join(registry.names)})")):
        registry.index("SMELL")


def test_a_scratch_buffer_is_kept_per_key_and_remade_for_another_shape_or_dtype(tmp_path):
    with Environment(make_config(tmp_path, "ram")) as env:
        first = env.scratch("k", (3, 5, 5))
        assert first.dtype == np.float32 and env.scratch("k", (3, 5, 5)) is first
        as_bool = env.scratch("k", (3, 5, 5), dtype=np.bool_)
        assert as_bool.dtype == np.bool_ and as_bool.shape == (3, 5, 5)
        assert env.scratch("k", (4, 5, 5), dtype=np.bool_).shape == (4, 5, 5)
