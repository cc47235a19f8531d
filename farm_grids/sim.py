"""A seeded workload driver: teams random-walk, leave trails, signal allies, fight and eat."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from farm_grids.environment import Environment
from farm_grids.errors import InvalidGridSpecError

__all__ = ["WorkloadDriver", "TickStats"]

# The 8-neighbourhood plus staying put.
_STEPS = np.array([(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)], dtype=np.intp)


@dataclass(frozen=True)
class TickStats:
    """What one tick of the driver did."""

    tick: int
    alive: int
    encounters: int
    consumed: float


class WorkloadDriver:
    """Drives an Environment with a reproducible agent workload (the end-to-end benchmark).

    Every random choice comes from the environment's generator (``env.rng``, reseeded
    with ``seed`` when one is given), so RAM and memmap environments driven with the same
    seed see identical worlds, and a snapshot (which saves ``env.rng``) resumes the same run.
    """

    def __init__(
        self,
        env: Environment,
        n_agents: int,
        *,
        teams: int = 2,
        seed: int | None = 0,
        signal_fraction: float = 0.1,
        damage: float = 0.05,
        bite: float = 1.0,
    ) -> None:
        if n_agents < 0 or teams < 1:
            raise InvalidGridSpecError(f"need n_agents >= 0 and teams >= 1, got {n_agents}, {teams}")
        if not 0.0 <= signal_fraction <= 1.0:
            raise InvalidGridSpecError(f"signal_fraction must be in [0, 1], got {signal_fraction}")
        self.env = env
        if seed is not None:
            env.rng = np.random.default_rng(seed)
        self.signal_fraction = signal_fraction
        self.damage = np.float32(damage)
        self.bite = bite
        if n_agents == 0 and env.num_agents:  # resume: drive the agents a snapshot restored
            self.ids = np.arange(env.num_agents, dtype=np.intp)
            return
        ys = self.rng.integers(0, env.height, n_agents)
        xs = self.rng.integers(0, env.width, n_agents)
        team = self.rng.integers(0, teams, n_agents)
        self.ids = env.add_agents(ys, xs, team=team, hp=1.0)

    @classmethod
    def resume(cls, env: Environment, **options: object) -> WorkloadDriver:
        """Drive a restored environment's agents on, from its saved generator (no new agents)."""
        return cls(env, 0, seed=None, **options)  # type: ignore[arg-type]

    @property
    def rng(self) -> np.random.Generator:
        return self.env.rng

    def step(self) -> TickStats:
        """Move, deposit trails/signals/heat, consume resources, then advance the world a tick."""
        env, agents = self.env, self.env.agents
        live = self.ids[agents.alive[self.ids]]
        moves = _STEPS[self.rng.integers(0, len(_STEPS), live.size)]
        ys = np.clip(agents.ys[live] + moves[:, 0], 0, env.height - 1)
        xs = np.clip(agents.xs[live] + moves[:, 1], 0, env.width - 1)
        env.move_agents(live, ys, xs)
        env.deposit_temporal_events("TRAILS", ys, xs, 0.5)
        signalling = self.rng.random(live.size) < self.signal_fraction
        env.deposit_temporal_events("ALLY_SIGNAL", ys[signalling], xs[signalling], 1.0)
        fighting = self._encounters(live, ys, xs)
        if fighting.size:
            env.deposit_temporal_events("DAMAGE_HEAT", agents.ys[fighting], agents.xs[fighting], 1.0)
            hp = np.maximum(agents.hp[fighting] - self.damage, 0.0)
            env.set_hp(fighting, hp)
            dead = fighting[hp <= 0.0]
            if dead.size:
                env.kill(dead)
        taken = env.resources.consume(ys, xs, np.full(live.size, self.bite))
        env.update()
        return TickStats(
            tick=env.tick,
            alive=int(agents.alive[self.ids].sum()),
            encounters=int(fighting.size),
            consumed=float(taken.sum()),
        )

    def _encounters(self, live: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """Agents sharing a cell with an agent of another team."""
        if live.size == 0:
            return live
        cell = ys * self.env.width + xs
        teams = self.env.agents.team[live]
        order = np.lexsort((teams, cell))
        cell_sorted, team_sorted = cell[order], teams[order]
        # A cell is contested when its smallest and largest team differ.
        starts = np.flatnonzero(np.r_[True, cell_sorted[1:] != cell_sorted[:-1]])
        ends = np.r_[starts[1:], cell_sorted.size] - 1
        contested = team_sorted[starts] != team_sorted[ends]
        flags = np.repeat(contested, ends - starts + 1)
        return np.sort(live[order][flags])

    def run(self, ticks: int) -> list[TickStats]:
        return [self.step() for _ in range(ticks)]
