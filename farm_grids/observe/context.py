"""ObservationContext: what a channel handler reads for the agents being observed, through the world's sources."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from farm_grids.observe.sources import ObservationSources, WindowSource
from farm_grids.windows import WindowPlan, plan_windows, retarget_plan

__all__ = ["ObservationContext"]


@dataclass
class ObservationContext:
    """What a channel handler sees: the world's sources and the agents being observed.

    ``sources`` is the narrow view of the world (layers and windows by name, agents, tick);
    ``batched`` picks the read strategy: one ``get_windows`` call for all agents, or one
    ``get_window`` per agent (the per-agent path ``observe`` uses).
    """

    sources: ObservationSources
    ys: np.ndarray
    xs: np.ndarray
    teams: np.ndarray
    hp: np.ndarray
    radius: int
    fov_disk: np.ndarray
    batched: bool
    planes: dict[str, np.ndarray] = field(default_factory=dict)
    plan: WindowPlan | None = None
    team_rows: dict[int, np.ndarray] = field(default_factory=dict)
    team_plans: dict[int, WindowPlan] = field(default_factory=dict)

    def gather(
        self, source: WindowSource, name: str, out: np.ndarray, *, normalize_by: float | None = None, team: int | None = None
    ) -> None:
        """Fill ``out`` with the windows of grid ``name`` of a manager or store.

        With ``team`` only that team's agents are read, into their own rows of ``out``.
        """
        if self.batched:
            source.get_planned_windows(name, self._plan(team), normalize_by=normalize_by, out=out)
            return
        r = self.radius
        rows = range(self.ys.size) if team is None else self._team_rows(team).tolist()
        for i in rows:
            y, x = int(self.ys[i]), int(self.xs[i])
            out[i] = source.get_window(name, y - r, y + r + 1, x - r, x + r + 1, normalize_by=normalize_by)

    def _plan(self, team: int | None) -> WindowPlan:
        """The window plan of every agent, or of one team's agents: validated once per pass."""
        # Every world grid has the same shape and the agents the same centres, so a plan
        # serves all layers of the pass.
        shape = self.sources.world_shape
        if team is None:
            if self.plan is None:
                self.plan = plan_windows(shape, self.ys, self.xs, self.radius)
            return self.plan
        plan = self.team_plans.get(team)
        if plan is None:
            rows = self._team_rows(team)
            subset = plan_windows(shape, self.ys[rows], self.xs[rows], self.radius)
            plan = self.team_plans[team] = retarget_plan(subset, rows, self.ys.size)
        return plan

    def gather_layer(self, layer: str, out: np.ndarray, *, unset_value: float = 0.0) -> None:
        environmental = self.sources.environmental_layer(layer)
        if environmental is not None:
            self.gather(environmental, layer, out)
        else:
            out[...] = unset_value

    def gather_transient(self, channel: str, out: np.ndarray) -> None:
        """Dense window of the world grid when there is one; sparse events otherwise."""
        grid = self.sources.transient_grid(channel)
        if grid is not None:
            self.gather(grid, channel, out)
            return
        events = self.sources.transient_events(channel)
        if events is not None:
            events.windows(self.ys, self.xs, self.radius, out)
        else:
            out[...] = 0  # a world grid that never held data costs no read

    def team_hp_windows(self, out: np.ndarray, *, allies: bool) -> None:
        """Allies' (own team, self removed) or enemies' (other teams) HP around each agent.

        Each team's agents read only the rasters they need, straight into their rows of
        ``out``: no per-team window buffers and no masked passes over all agents.
        """
        raster = self.sources.hp_raster
        teams = raster.teams()
        covered = 0
        for team in teams:
            rows = self._team_rows(team)
            if rows.size == 0:
                continue
            covered += rows.size
            sources = [team] if allies else [other for other in teams if other != team]
            if not sources:
                out[rows] = 0  # a lone team has no enemies
                continue
            self.gather(raster.store, raster.grid_name(sources[0]), out, team=team)
            if len(sources) > 1:
                # Three or more teams: the other rasters add up in team order.
                extra = self.sources.scratch("enemy-hp-windows", out.shape)
                for other in sources[1:]:
                    self.gather(raster.store, raster.grid_name(other), extra, team=team)
                    out[rows] += extra[rows]
        if covered < self.teams.size:
            out[~np.isin(self.teams, teams)] = 0  # a team without a drawn raster sees no one
        if allies:
            out[:, self.radius, self.radius] -= self.hp

    def _team_rows(self, team: int) -> np.ndarray:
        rows = self.team_rows.get(team)
        if rows is None:
            rows = self.team_rows[team] = np.flatnonzero(self.teams == team)
        return rows

    def computed(self, name: str) -> np.ndarray | None:
        """A channel plane already built in this pass, if any."""
        return self.planes.get(name)
