"""A hand-written model world and the observation each default channel must give, cell by cell, with loops."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CHANNELS = ("SELF_HP", "ALLIES_HP", "ENEMIES_HP", "RESOURCES", "OBSTACLES", "TERRAIN_COST", "VISIBILITY",
            "KNOWN_EMPTY", "DAMAGE_HEAT", "TRAILS", "ALLY_SIGNAL", "GOAL", "LANDMARKS")
TRANSIENT = ("DAMAGE_HEAT", "TRAILS", "ALLY_SIGNAL")


@dataclass
class Agent:
    y: int
    x: int
    team: int
    hp: float
    alive: bool = True


@dataclass
class ModelWorld:
    """What the world holds, kept by the test itself (never read back from the engine)."""

    height: int
    width: int
    radius: int
    fov_radius: int
    max_amount: float
    gammas: dict[str, float]
    layers: dict[str, np.ndarray] = field(default_factory=dict)  # OBSTACLES, TERRAIN_COST, VISIBILITY
    resources: np.ndarray | None = None
    transient: dict[str, np.ndarray] = field(default_factory=dict)
    agents: list[Agent] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.resources = np.zeros((self.height, self.width), np.float32)
        self.transient = {name: np.zeros((self.height, self.width), np.float32) for name in TRANSIENT}

    def deposit(self, channel: str, ys: list[int], xs: list[int], values: list[float], clip: float = 1.0) -> None:
        """Add every in-world point, then cap each touched cell at ``clip`` (the documented deposit)."""
        grid = self.transient[channel]
        touched = set()
        for y, x, v in zip(ys, xs, values):
            if 0 <= y < self.height and 0 <= x < self.width:
                grid[y, x] += np.float32(v)
                touched.add((y, x))
        for y, x in touched:
            grid[y, x] = min(grid[y, x], np.float32(clip))

    def tick(self) -> None:
        """One update: every transient grid decays once by its channel's gamma."""
        for name, grid in self.transient.items():
            grid *= np.float32(self.gammas[name])

    def consume(self, y: int, x: int, amount: float) -> None:
        self.resources[y, x] = max(self.resources[y, x] - np.float32(amount), np.float32(0.0))

    # -- the reference observation -------------------------------------------------------------
    def _cell(self, grid: np.ndarray | None, y: int, x: int, unset: float = 0.0) -> float:
        if grid is None:
            return unset
        if 0 <= y < self.height and 0 <= x < self.width:
            return float(grid[y, x])
        return 0.0

    def observation(self, i: int) -> np.ndarray:
        """Agent ``i``'s (13, S, S) observation from the channels' documented meaning."""
        me = self.agents[i]
        r, side = self.radius, 2 * self.radius + 1
        obs = np.zeros((len(CHANNELS), side, side), np.float32)
        if not me.alive:
            return obs  # dead agents observe zeros
        c = {name: k for k, name in enumerate(CHANNELS)}
        for a in range(side):
            for b in range(side):
                dy, dx = a - r, b - r
                y, x = me.y + dy, me.x + dx
                in_fov = dy * dy + dx * dx <= self.fov_radius ** 2
                here = [o for j, o in enumerate(self.agents) if o.alive and (o.y, o.x) == (y, x) and j != i]
                obs[c["SELF_HP"], a, b] = me.hp if (dy, dx) == (0, 0) else 0.0
                obs[c["ALLIES_HP"], a, b] = sum(np.float32(o.hp) for o in here if o.team == me.team)
                obs[c["ENEMIES_HP"], a, b] = sum(np.float32(o.hp) for o in here if o.team != me.team)
                obs[c["RESOURCES"], a, b] = self._cell(self.resources, y, x) / self.max_amount
                obs[c["OBSTACLES"], a, b] = self._cell(self.layers.get("OBSTACLES"), y, x)
                obs[c["TERRAIN_COST"], a, b] = self._cell(self.layers.get("TERRAIN_COST"), y, x)
                # An unset VISIBILITY layer means "all visible": the field-of-view disk alone.
                visible = self._cell(self.layers.get("VISIBILITY"), y, x, unset=1.0)
                obs[c["VISIBILITY"], a, b] = visible if in_fov else 0.0
                nothing_here = all(obs[c[n], a, b] == 0 for n in
                                   ("RESOURCES", "OBSTACLES", "ALLIES_HP", "ENEMIES_HP", "SELF_HP"))
                obs[c["KNOWN_EMPTY"], a, b] = 1.0 if in_fov and nothing_here else 0.0
                for name in TRANSIENT:
                    obs[c[name], a, b] = self._cell(self.transient[name], y, x)
                # GOAL and LANDMARKS stay zero: placeholders a simulation fills with its own handler.
        return obs

    def observations(self) -> np.ndarray:
        return np.stack([self.observation(i) for i in range(len(self.agents))])


def model_of(env: object, grids: dict[str, np.ndarray]) -> ModelWorld:
    """A ModelWorld holding ``grids`` (world layers by name, e.g. read from the files) and ``env``'s agents."""
    cfg = env.config  # type: ignore[attr-defined]
    model = ModelWorld(cfg.height, cfg.width, cfg.observation.radius, cfg.observation.fov_radius,
                       cfg.resources.max_amount, gammas={})
    for name in ("OBSTACLES", "TERRAIN_COST", "VISIBILITY"):
        if name in grids:
            model.layers[name] = grids[name]
    model.resources = grids.get("RESOURCES", model.resources)
    model.transient.update({name: grids[name] for name in TRANSIENT if name in grids})
    table = env.agents  # type: ignore[attr-defined]
    model.agents = [Agent(int(y), int(x), int(t), float(h), bool(a))
                    for y, x, t, h, a in zip(table.ys, table.xs, table.team, table.hp, table.alive)]
    return model

