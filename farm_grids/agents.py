"""Agents as arrays (position, team, hp, alive) and their per-team HP rasters."""

from __future__ import annotations

import numpy as np

from farm_grids.errors import InvalidGridSpecError, UnknownAgentError
from farm_grids.stores import SparseRamStore
from farm_grids.values import checked_values
from farm_grids.windows import validate_centres

__all__ = ["AgentTable", "HpRaster", "UnknownAgentError"]


class AgentTable:
    """Struct-of-arrays agent state; ids are dense row indices, never reused."""

    def __init__(self, height: int, width: int) -> None:
        self.height = height
        self.width = width
        self.ys = np.empty(0, dtype=np.intp)
        self.xs = np.empty(0, dtype=np.intp)
        self.team = np.empty(0, dtype=np.int64)
        self.hp = np.empty(0, dtype=np.float32)
        self.alive = np.empty(0, dtype=bool)
        self.version = 0  # bumped on every change so rasters know when to redraw

    def __len__(self) -> int:
        return int(self.ys.shape[0])

    # -- validation -----------------------------------------------------------------------
    def check_ids(self, ids: object) -> np.ndarray:
        arr = np.asarray(ids)
        if arr.ndim == 0:
            arr = arr.reshape(1)
        if arr.size and arr.dtype.kind not in "iu":
            raise InvalidGridSpecError(f"agent ids must be integers, got dtype {arr.dtype}")
        arr = arr.astype(np.intp, copy=False)
        bad = arr[(arr < 0) | (arr >= len(self))]
        if bad.size:
            raise UnknownAgentError(f"unknown agent id {int(bad[0])} (have {len(self)} agents)")
        return arr

    def _check_positions(self, ys: object, xs: object) -> tuple[np.ndarray, np.ndarray]:
        rows, cols = validate_centres(ys, xs)
        outside = (rows < 0) | (rows >= self.height) | (cols < 0) | (cols >= self.width)
        if outside.any():
            i = int(np.flatnonzero(outside)[0])
            raise InvalidGridSpecError(
                f"position ({int(rows[i])}, {int(cols[i])}) is outside the "
                f"{self.height}x{self.width} world"
            )
        return rows, cols

    @staticmethod
    def _per_agent(value: object, count: int, label: str, dtype: type) -> np.ndarray:
        if dtype is np.int64:
            arr = np.asarray(value)
            if arr.size and arr.dtype.kind not in "iu":
                raise InvalidGridSpecError(f"{label} must hold integers, got dtype {arr.dtype}")
        return checked_values(value, count, np.dtype(dtype), label, non_negative=True)

    # -- changes (all validated before anything is written) --------------------------------
    def add(self, ys: object, xs: object, *, team: object = 0, hp: object = 1.0) -> np.ndarray:
        rows, cols = self._check_positions(ys, xs)
        teams = self._per_agent(team, rows.size, "team", np.int64)
        if (teams < 0).any():
            raise InvalidGridSpecError(f"team must be >= 0, got {teams.min()}")
        hps = self._per_agent(hp, rows.size, "hp", np.float32)
        first = len(self)
        self.ys = np.concatenate([self.ys, rows])
        self.xs = np.concatenate([self.xs, cols])
        self.team = np.concatenate([self.team, teams])
        self.hp = np.concatenate([self.hp, hps])
        self.alive = np.concatenate([self.alive, np.ones(rows.size, dtype=bool)])
        self.version += 1
        return np.arange(first, first + rows.size, dtype=np.intp)

    def move(self, ids: object, ys: object, xs: object) -> None:
        agents = self.check_ids(ids)
        rows, cols = self._check_positions(ys, xs)
        if rows.shape != agents.shape:
            raise InvalidGridSpecError(f"{agents.size} ids but {rows.size} positions")
        self.ys[agents] = rows
        self.xs[agents] = cols
        self.version += 1

    def set_hp(self, ids: object, hp: object) -> None:
        agents = self.check_ids(ids)
        self.hp[agents] = self._per_agent(hp, agents.size, "hp", np.float32)
        self.version += 1

    def kill(self, ids: object) -> None:
        agents = self.check_ids(ids)
        self.alive[agents] = False
        self.version += 1

    def clear(self) -> None:
        self.__init__(self.height, self.width)  # type: ignore[misc]

    COLUMNS = ("ys", "xs", "team", "hp", "alive")

    def export_state(self) -> dict[str, np.ndarray]:
        """Every agent column (copies)."""
        return {column: getattr(self, column).copy() for column in self.COLUMNS}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Replace every agent with ``state``'s, checked like ``add`` (positions, teams, hp)."""
        ys, xs = self._check_positions(state["ys"], state["xs"])
        count = ys.size
        team = self._per_agent(state["team"], count, "team", np.int64)
        hp = self._per_agent(state["hp"], count, "hp", np.float32)
        alive = np.asarray(state["alive"])
        if alive.dtype != np.bool_ or alive.shape != (count,):
            raise InvalidGridSpecError(f"alive must be {count} booleans, got {alive.dtype} {alive.shape}")
        self.ys, self.xs, self.team, self.hp, self.alive = ys.copy(), xs.copy(), team, hp, alive.copy()
        self.version += 1


class HpRaster:
    """Per-team grids of living agents' HP, redrawn only where agents were or are."""

    def __init__(self, agents: AgentTable) -> None:
        self.agents = agents
        # World-sized but written only at agent cells: resident memory follows the agents.
        self.store = SparseRamStore(namespace="agents")
        self._drawn_version = -1
        self._drawn_cells: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def grid_name(self, team: int) -> str:
        return f"HP_TEAM_{team}"

    def teams(self) -> list[int]:
        return sorted(self._drawn_cells)

    def refresh(self) -> None:
        """Redraw if agents changed: clear last draw's cells, then scatter current HP."""
        agents = self.agents
        if self._drawn_version == agents.version:
            return
        for team, (ys, xs) in self._drawn_cells.items():
            # Zero only the cells drawn last time: cost follows the agents, not the world.
            self.store.add_many(self.grid_name(team), ys, xs, 0.0, accumulate=False)
        self._drawn_cells = {}
        live = np.flatnonzero(agents.alive)
        for team in np.unique(agents.team[live]).tolist():
            members = live[agents.team[live] == team]
            name = self.grid_name(team)
            if not self.store.has(name):
                self.store.create(name, (agents.height, agents.width))
            ys, xs = agents.ys[members], agents.xs[members]
            self.store.add_many(name, ys, xs, agents.hp[members])
            self._drawn_cells[team] = (ys, xs)
        self._drawn_version = agents.version

    def close(self) -> None:
        self.store.close_all()
