"""Building (N, C, S, S) observations from world layers, and handing them to torch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from farm_grids.channels import ChannelBehavior
from farm_grids.config import device_problem
from farm_grids.errors import ConfigFieldError, InvalidGridSpecError
from farm_grids.windows import WindowPlan, plan_windows, retarget_plan

if TYPE_CHECKING:
    from farm_grids.environment import Environment

__all__ = ["ObservationContext", "build_observations", "fov_disk", "resolve_device", "to_tensor"]

_TORCH_DTYPES = {
    "float16": torch.float16,
    "float32": torch.float32,
    "float64": torch.float64,
    "bfloat16": torch.bfloat16,
}


def fov_disk(radius: int, fov_radius: int) -> np.ndarray:
    """The (S, S) float32 field-of-view mask: 1 inside the disk of ``fov_radius``."""
    offsets = np.arange(-radius, radius + 1)
    dist2 = offsets[:, None] ** 2 + offsets[None, :] ** 2
    return (dist2 <= fov_radius * fov_radius).astype(np.float32)


@dataclass
class ObservationContext:
    """What a channel handler sees: the environment and the agents being observed.

    ``batched`` picks the read strategy: one ``get_windows`` call for all agents, or one
    ``get_window`` per agent (the per-agent path ``observe`` uses).
    """

    env: Environment
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
        self, source: Any, name: str, out: np.ndarray, *, normalize_by: float | None = None, team: int | None = None
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
        shape = (self.env.height, self.env.width)
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
        environmental = self.env.environmental
        if environmental.is_set(layer):
            self.gather(environmental, layer, out)
        else:
            out[...] = unset_value

    def gather_transient(self, channel: str, out: np.ndarray) -> None:
        """Dense window of the world grid when there is one; sparse events otherwise."""
        temporal = self.env.temporal
        if temporal is not None:
            if temporal.has_any_data(channel):
                self.gather(temporal, channel, out)
            else:
                out[...] = 0  # a channel that never held data costs no read
        else:
            self.env.sparse_events[channel].windows(self.ys, self.xs, self.radius, out)

    def team_hp_windows(self, out: np.ndarray, *, allies: bool) -> None:
        """Allies' (own team, self removed) or enemies' (other teams) HP around each agent.

        Each team's agents read only the rasters they need, straight into their rows of
        ``out``: no per-team window buffers and no masked passes over all agents.
        """
        raster = self.env.hp_raster
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
                extra = self.env.scratch("enemy-hp-windows", out.shape)
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


def build_observations(env: Environment, agent_ids: np.ndarray, out: np.ndarray, *, batched: bool) -> None:
    """Write the (n, C, S, S) observations of living ``agent_ids`` into ``out``."""
    agents = env.agents
    env.hp_raster.refresh()
    obs = env.config.observation
    ctx = ObservationContext(
        env=env,
        ys=agents.ys[agent_ids],
        xs=agents.xs[agent_ids],
        teams=agents.team[agent_ids],
        hp=agents.hp[agent_ids],
        radius=obs.radius,
        fov_disk=env.fov_disk,
        batched=batched,
    )
    for index, spec in enumerate(env.channels):
        plane = out[:, index]
        spec.handler(ctx, plane)
        if spec.behavior is ChannelBehavior.DYNAMIC and spec.name not in env.world_driven_channels:
            np.maximum(plane, env.agent_memory(spec.name)[agent_ids], out=plane)
        ctx.planes[spec.name] = plane


def resolve_device(device: str | torch.device) -> torch.device:
    """The torch device observations are made on: the config's rule (``device_problem``), applied again."""
    name = str(device) if isinstance(device, torch.device) else device
    problem = device_problem(name) if isinstance(name, str) else f"must be a device name, got {device!r}"
    if problem is not None:
        # Never fall back to the CPU silently: the caller asked for something else.
        raise ConfigFieldError("observation.device", problem)
    return torch.device(name)


def to_tensor(array: np.ndarray, dtype: str, device: torch.device) -> torch.Tensor:
    """Zero-copy for float32 on the CPU; otherwise convert, via pinned memory for CUDA."""
    try:
        torch_dtype = _TORCH_DTYPES[dtype]
    except KeyError:
        raise InvalidGridSpecError(f"unsupported observation dtype {dtype!r}") from None
    tensor = torch.from_numpy(array)
    if device.type == "cpu":
        return tensor if torch_dtype == torch.float32 else tensor.to(torch_dtype)
    return tensor.pin_memory().to(device, dtype=torch_dtype, non_blocking=True)
