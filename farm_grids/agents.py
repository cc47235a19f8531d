"""Agents as arrays (position, team, hp, alive) and their per-team HP rasters."""

from __future__ import annotations

import numpy as np

from farm_grids.errors import InvalidGridSpecError, UnknownAgentError
from farm_grids.stores import SparseRamStore
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
        arr = np.asarray(value)
        if arr.ndim == 0:
            arr = np.full(count, arr)
        if arr.shape != (count,):
            raise InvalidGridSpecError(f"{label} must be a scalar or have length {count}, got {arr.shape}")
        if dtype is np.int64 and arr.size and arr.dtype.kind not in "iu":
            raise InvalidGridSpecError(f"{label} must hold integers, got dtype {arr.dtype}")
        if dtype is np.float32:
            if arr.size and arr.dtype.kind not in "iuf":
                raise InvalidGridSpecError(f"{label} must be numeric, got dtype {arr.dtype}")
            if not np.isfinite(arr).all() or (arr < 0).any():
                raise InvalidGridSpecError(f"{label} must be finite and >= 0, got {arr!r}")
        return arr.astype(dtype)

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


class HpRaster:
    """Per-team grids of living agents' HP, redrawn only where agents were or are."""

    def __init__(self, agents: AgentTable) -> None:
        self.agents = agents
        # World-sized but written only at agent cells: resident memory follows the agents.
        self.store = SparseRamStore(namespace="agents")
        self._drawn_version = -1
        self._drawn_cells: dict[int, np.ndarray] = {}

    def grid_name(self, team: int) -> str:
        return f"HP_TEAM_{team}"

    def teams(self) -> list[int]:
        return sorted(self._drawn_cells)

    def refresh(self) -> None:
        """Redraw if agents changed: clear last draw's cells, then scatter current HP."""
        agents = self.agents
        if self._drawn_version == agents.version:
            return
        width = agents.width
        for team, cells in self._drawn_cells.items():
            # Zero only the cells drawn last time: cost follows the agents, not the world.
            self.store.get(self.grid_name(team)).reshape(-1)[cells] = 0.0
        self._drawn_cells = {}
        live = np.flatnonzero(agents.alive)
        for team in np.unique(agents.team[live]).tolist():
            members = live[agents.team[live] == team]
            name = self.grid_name(team)
            if not self.store.has(name):
                self.store.create(name, (agents.height, width))
            self.store.add_many(name, agents.ys[members], agents.xs[members], agents.hp[members])
            self._drawn_cells[team] = agents.ys[members] * width + agents.xs[members]
        self._drawn_version = agents.version

    def close(self) -> None:
        self.store.close_all()
