"""Every default channel against a hand-computed reference on small worlds, also after moves, kills and HP changes."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import torch

from farm_grids.environment import Environment

from .conftest import make_config
from .reference import CHANNELS, TRANSIENT, Agent, ModelWorld

H, W = 11, 14  # not square: a swapped axis shows
RADIUS, FOV = 3, 2
MAX_AMOUNT = 4.0


def world_pair(tmp_path: Path, backend: str, dense: bool) -> tuple[Environment, ModelWorld]:
    cfg = make_config(tmp_path, backend, overrides={
        "height": H, "width": W, "observation.radius": RADIUS, "observation.fov_radius": FOV,
        "resources.count": 0, "resources.max_amount": MAX_AMOUNT, "resources.regen_rate": 0.0,
    })
    obs = cfg.observation
    env = Environment(cfg, temporal_world_layers=dense)
    model = ModelWorld(H, W, RADIUS, FOV, MAX_AMOUNT, gammas={
        "DAMAGE_HEAT": obs.gamma_dmg, "TRAILS": obs.gamma_trail, "ALLY_SIGNAL": obs.gamma_sig})
    return env, model


@pytest.fixture(params=[("ram", True), ("memmap", True), ("ram", False)], ids=["ram", "memmap", "sparse-events"])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Environment, ModelWorld]]:
    env, model = world_pair(tmp_path, *request.param)
    with env:
        yield env, model


def add_agents(env: Environment, model: ModelWorld, agents: list[Agent]) -> None:
    env.add_agents([a.y for a in agents], [a.x for a in agents], team=[a.team for a in agents],
                   hp=[a.hp for a in agents])
    model.agents.extend(agents)


def set_layer(env: Environment, model: ModelWorld, name: str, grid: np.ndarray) -> None:
    env.set_environmental_layer(name, grid)
    model.layers[name] = grid.copy()


def place_resources(env: Environment, model: ModelWorld, cells: dict[tuple[int, int], float]) -> None:
    ys, xs = zip(*cells)
    env.resources.store.add_many("RESOURCES", list(ys), list(xs), list(cells.values()), accumulate=False)
    for (y, x), amount in cells.items():
        model.resources[y, x] = amount


def assert_observes_like_the_model(env: Environment, model: ModelWorld, when: str) -> None:
    expected = model.observations()
    batched = env.observe_all().numpy()
    assert batched.shape == expected.shape
    for agent in range(len(model.agents)):
        single = env.observe(agent).numpy()
        for k, channel in enumerate(CHANNELS):
            where = f"{when}: agent {agent} {model.agents[agent]} channel {channel}"
            # Transient values went through float32 decays in either order: within 1 ulp.
            rtol = 1e-6 if channel in TRANSIENT or channel == "RESOURCES" else 0.0
            np.testing.assert_allclose(batched[agent, k], expected[agent, k], rtol=rtol, atol=0, err_msg=where)
            np.testing.assert_allclose(single[k], expected[agent, k], rtol=rtol, atol=0, err_msg=where)


def distinct_layers(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Three layers no two of which agree anywhere much: reading the wrong one shows."""
    obstacles = (rng.random((H, W)) < 0.3).astype(np.float32)
    terrain = (rng.integers(1, 16, (H, W)) / 4).astype(np.float32) + 2.0  # 2.25 .. 5.75, never 0 or 1
    visibility = (rng.integers(1, 8, (H, W)) / 8).astype(np.float32)  # 0.125 .. 0.875
    return {"OBSTACLES": obstacles, "TERRAIN_COST": terrain, "VISIBILITY": visibility}


EDGE_AGENTS = [
    Agent(0, 0, 0, 0.5), Agent(0, W - 1, 1, 0.25), Agent(H - 1, 0, 2, 0.75), Agent(H - 1, W - 1, 0, 1.0),
    Agent(5, 6, 0, 0.375), Agent(5, 6, 0, 0.125),  # two allies on one cell
    Agent(6, 7, 1, 0.625), Agent(4, 5, 2, 0.875), Agent(5, 8, 0, 0.5),
]


def test_every_channel_on_an_empty_world_is_the_fov_disk_and_self(pair) -> None:
    env, model = pair
    add_agents(env, model, [Agent(5, 6, 0, 0.5), Agent(0, 0, 1, 0.25)])
    assert env.channels.names == CHANNELS
    assert_observes_like_the_model(env, model, "empty world")


def test_every_channel_with_every_layer_set(pair) -> None:
    env, model = pair
    rng = np.random.default_rng(4)
    for name, grid in distinct_layers(rng).items():
        set_layer(env, model, name, grid)
    place_resources(env, model, {(5, 6): 4.0, (5, 7): 1.0, (0, 0): 3.0, (H - 1, W - 1): 0.5, (4, 4): 2.5})
    for channel in TRANSIENT:
        ys, xs = rng.integers(-1, H + 1, 30).tolist(), rng.integers(-1, W + 1, 30).tolist()
        values = (rng.integers(1, 8, 30) / 8).tolist()
        env.deposit_temporal_events(channel, ys, xs, values)
        model.deposit(channel, ys, xs, values)
    add_agents(env, model, EDGE_AGENTS)
    assert_observes_like_the_model(env, model, "every layer set")
    # The references really differ channel from channel: a handler reading another's layer shows.
    expected = model.observations()
    for a, b in (("TERRAIN_COST", "OBSTACLES"), ("KNOWN_EMPTY", "VISIBILITY"), ("RESOURCES", "OBSTACLES")):
        assert not np.array_equal(expected[:, CHANNELS.index(a)], expected[:, CHANNELS.index(b)])


def test_known_empty_excludes_obstacles_resources_and_agents(tmp_path: Path) -> None:
    env, model = world_pair(tmp_path, "ram", True)
    with env:
        obstacles = np.zeros((H, W), np.float32)
        obstacles[5, 7] = 1.0
        set_layer(env, model, "OBSTACLES", obstacles)
        place_resources(env, model, {(6, 6): 1.0})
        add_agents(env, model, [Agent(5, 6, 0, 0.5), Agent(4, 6, 0, 0.25), Agent(5, 5, 1, 0.75)])
        plane = env.observe(0).numpy()[CHANNELS.index("KNOWN_EMPTY")]
        r = RADIUS
        # Hand-checked cells: self, an obstacle, a resource, an ally, an enemy, then a free cell.
        assert [plane[r, r], plane[r, r + 1], plane[r + 1, r], plane[r - 1, r], plane[r, r - 1]] == [0, 0, 0, 0, 0]
        assert plane[r - 1, r - 1] == 1.0 and plane[r + 2, r] == 1.0
        assert plane[r - 3, r - 3] == 0.0, "outside the field-of-view disk nothing is known"
        assert plane.sum() == 13 - 5  # the radius-2 disk holds 13 cells
        assert_observes_like_the_model(env, model, "known empty")



@pytest.mark.parametrize("occupancy", [(), ("RESOURCES",), ("RESOURCES", "OBSTACLES"), ("OBSTACLES", "SELF_HP")])
def test_known_empty_reads_only_the_occupancy_channels_a_registry_holds(tmp_path: Path, occupancy) -> None:
    # A registry of fewer channels: KNOWN_EMPTY is the disk less the cells the present
    # occupancy channels mark, whatever their number (none: the whole disk).
    from farm_grids.observe import ChannelRegistry, default_registry

    specs = {spec.name: spec for spec in default_registry()}
    names = (*occupancy, "KNOWN_EMPTY")
    cfg = make_config(tmp_path, "ram", overrides={"height": H, "width": W, "observation.radius": RADIUS,
                                                  "observation.fov_radius": FOV, "resources.count": 0,
                                                  "resources.max_amount": MAX_AMOUNT})
    with Environment(cfg, channels=ChannelRegistry(tuple(specs[name] for name in names))) as env:
        obstacles = np.zeros((H, W), np.float32)
        obstacles[5, 7] = 1.0
        env.set_environmental_layer("OBSTACLES", obstacles)
        env.resources.store.add_many("RESOURCES", [6], [6], [1.0], accumulate=False)
        env.add_agents([5, 4], [6, 6], team=[0, 1], hp=[0.5, 0.5])
        obs = env.observe_all().numpy()[0]
        r = RADIUS
        expected = env.fov_disk.copy()
        marked = {"RESOURCES": (r + 1, r), "OBSTACLES": (r, r + 1), "SELF_HP": (r, r)}
        for name in occupancy:
            expected[marked[name]] = 0
        np.testing.assert_array_equal(obs[names.index("KNOWN_EMPTY")], expected)


def test_resources_are_normalised_by_max_amount(tmp_path: Path) -> None:
    env, model = world_pair(tmp_path, "ram", True)
    with env:
        place_resources(env, model, {(5, 6): 4.0, (5, 7): 1.0, (6, 6): 3.0})
        add_agents(env, model, [Agent(5, 6, 0, 1.0)])
        plane = env.observe_all().numpy()[0, CHANNELS.index("RESOURCES")]
        r = RADIUS
        assert (plane[r, r], plane[r, r + 1], plane[r + 1, r]) == (1.0, 0.25, 0.75)
        assert plane.sum() == 2.0


def test_visibility_is_the_layer_times_the_fov_disk(tmp_path: Path) -> None:
    env, model = world_pair(tmp_path, "ram", True)
    with env:
        add_agents(env, model, [Agent(5, 6, 0, 1.0)])
        vis = CHANNELS.index("VISIBILITY")
        unset = env.observe(0).numpy()[vis]
        disk = np.zeros_like(unset)
        for a in range(2 * RADIUS + 1):
            for b in range(2 * RADIUS + 1):
                disk[a, b] = (a - RADIUS) ** 2 + (b - RADIUS) ** 2 <= FOV ** 2
        np.testing.assert_array_equal(unset, disk)
        layer = np.full((H, W), 0.5, np.float32)
        layer[5, 8] = 0.25  # inside the disk (dx = 2)
        layer[2, 6] = 0.125  # outside it (dy = -3)
        set_layer(env, model, "VISIBILITY", layer)
        seen = env.observe(0).numpy()[vis]
        assert seen[RADIUS, RADIUS + 2] == 0.25 and seen[0, RADIUS] == 0.0
        assert seen.sum() == 12 * 0.5 + 0.25  # the 13-cell disk: twelve cells of 0.5 and one of 0.25
        assert_observes_like_the_model(env, model, "visibility layer")


def test_transient_channels_decay_once_per_tick_and_clip_at_one(pair) -> None:
    env, model = pair
    add_agents(env, model, [Agent(5, 6, 0, 1.0), Agent(H - 1, 0, 1, 0.5)])
    for tick in range(4):
        for k, channel in enumerate(TRANSIENT):
            ys, xs = [5, 5, 6, H - 1, H], [6, 6, 4 + k, 1, 0]  # a repeated cell, and one outside the world
            values = [0.75, 0.5, 0.25 * (k + 1), 0.125, 1.0]
            env.deposit_temporal_events(channel, ys, xs, values)
            model.deposit(channel, ys, xs, values)
        assert_observes_like_the_model(env, model, f"tick {tick} before update")
        env.update()
        model.tick()
        assert_observes_like_the_model(env, model, f"tick {tick} after update")


def test_moves_kills_and_hp_changes_leave_no_ghosts_over_several_ticks(pair) -> None:
    env, model = pair
    rng = np.random.default_rng(8)
    add_agents(env, model, [Agent(2, 2, 0, 0.5), Agent(2, 3, 0, 0.25), Agent(3, 2, 1, 0.75),
                            Agent(8, 10, 1, 1.0), Agent(8, 10, 2, 0.125), Agent(0, 13, 2, 0.625)])
    assert_observes_like_the_model(env, model, "start")
    for tick in range(6):
        movers = rng.choice(len(model.agents), size=3, replace=False)
        ys, xs = rng.integers(0, H, 3), rng.integers(0, W, 3)
        env.move_agents(movers, ys, xs)
        for i, y, x in zip(movers.tolist(), ys.tolist(), xs.tolist()):
            model.agents[i].y, model.agents[i].x = y, x
        assert_observes_like_the_model(env, model, f"tick {tick} after a move")
        if tick == 1:
            env.kill([3])
            model.agents[3].alive = False
        if tick in (2, 4):
            changed = [0, 2, 4]
            hp = (rng.integers(1, 8, 3) / 8).tolist()
            env.set_hp(changed, hp)
            for i, value in zip(changed, hp):
                model.agents[i].hp = value
        if tick == 3:
            env.kill([1, 5])
            model.agents[1].alive = model.agents[5].alive = False
        env.update()
        model.tick()
        assert_observes_like_the_model(env, model, f"tick {tick} after update")
    # The HP rasters hold the living agents' HP once, nowhere else: no ghosts, nothing added up.
    living = [a for a in model.agents if a.alive]
    total = sum(float(env.hp_raster.store.read(name).sum()) for name in env.hp_raster.store.names())
    assert total == pytest.approx(sum(a.hp for a in living))


def test_back_to_back_changes_of_one_kind_each_redraw(pair) -> None:
    """Two kills (moves, HP changes) in a row with an observation after each: every one redraws the rasters."""
    env, model = pair
    add_agents(env, model, [Agent(2, 2, 0, 0.5), Agent(2, 5, 0, 0.25), Agent(5, 2, 1, 0.75), Agent(5, 5, 1, 1.0)])
    assert_observes_like_the_model(env, model, "start")
    for i in (0, 1):
        env.kill([i])
        model.agents[i].alive = False
        assert_observes_like_the_model(env, model, f"after killing agent {i}")
    for y in (3, 4):
        env.move_agents([2], [y], [y])
        model.agents[2].y = model.agents[2].x = y
        assert_observes_like_the_model(env, model, f"after moving agent 2 to ({y}, {y})")
    for hp in (0.5, 0.125):
        env.set_hp([3], [hp])
        model.agents[3].hp = hp
        assert_observes_like_the_model(env, model, f"after setting agent 3's hp to {hp}")


def test_observe_all_reused_after_a_move_has_no_ghosts(tmp_path: Path) -> None:
    env, model = world_pair(tmp_path, "ram", True)
    with env:
        add_agents(env, model, [Agent(5, 6, 0, 0.5), Agent(5, 7, 0, 0.25), Agent(5, 5, 1, 0.75)])
        out = env.observe_all()
        env.move_agents([1, 2], [0, H - 1], [0, W - 1])
        model.agents[1].y, model.agents[1].x = 0, 0
        model.agents[2].y, model.agents[2].x = H - 1, W - 1
        env.set_hp([0], [0.875])
        model.agents[0].hp = 0.875
        assert env.observe_all(out=out) is out
        assert torch.equal(out, torch.from_numpy(model.observations()))
