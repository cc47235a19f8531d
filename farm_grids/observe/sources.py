"""ObservationSources: the narrow view of a world that observation building reads (never the Environment)."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from farm_grids.windows import WindowPlan

__all__ = ["AgentColumns", "EventWindows", "ObservationSources", "ResourceWindows", "TeamRasters", "WindowSource"]


class WindowSource(Protocol):
    """Grids whose windows can be read by name: a grid manager or a store."""

    def get_window(self, name: str, y0: int, y1: int, x0: int, x1: int, *,
                   normalize_by: float | None = None) -> np.ndarray: ...

    def get_planned_windows(self, name: str, plan: WindowPlan, *, normalize_by: float | None = None,
                            out: np.ndarray | None = None) -> np.ndarray: ...


class ResourceWindows(WindowSource, Protocol):
    """The resource grid: its name and the amount its windows are normalised by."""

    GRID: str
    max_amount: float


class EventWindows(Protocol):
    """Transient events kept as a sparse list (when the world keeps no grid for them)."""

    def windows(self, ys: np.ndarray, xs: np.ndarray, radius: int, out: np.ndarray) -> None: ...


class TeamRasters(Protocol):
    """Per-team HP rasters: one grid per team, in ``store``."""

    @property
    def store(self) -> WindowSource: ...

    def teams(self) -> list[int]: ...

    def grid_name(self, team: int) -> str: ...

    def refresh(self) -> None: ...


class AgentColumns(Protocol):
    """Every agent's position, team, HP and whether it lives, indexed by agent id."""

    ys: np.ndarray
    xs: np.ndarray
    team: np.ndarray
    hp: np.ndarray
    alive: np.ndarray


class ObservationSources(Protocol):
    """What observations are built from: layers and windows by name, agents, tick, buffers.

    ``Environment`` satisfies it; channel handlers reach the world only through it
    (``ctx.sources``), so observation code never depends on how a world is composed.
    """

    @property
    def tick(self) -> int: ...

    @property
    def world_shape(self) -> tuple[int, int]: ...

    @property
    def observation_radius(self) -> int: ...

    @property
    def fov_disk(self) -> np.ndarray: ...

    @property
    def agents(self) -> AgentColumns: ...

    @property
    def hp_raster(self) -> TeamRasters: ...

    @property
    def resources(self) -> ResourceWindows: ...

    @property
    def world_driven_channels(self) -> frozenset[str]: ...

    def environmental_layer(self, name: str) -> WindowSource | None:
        """Where the environmental layer ``name`` is read, or None when it was never set."""
        ...

    def transient_grid(self, channel: str) -> WindowSource | None:
        """The world grid of a transient channel, or None when there is none or it never held data."""
        ...

    def transient_events(self, channel: str) -> EventWindows | None:
        """The sparse events of a transient channel when the world keeps no grids for them, else None."""
        ...

    def scratch(self, key: str, shape: tuple[int, ...], dtype: npt.DTypeLike = np.float32) -> np.ndarray:
        """A work buffer kept across ticks (contents undefined)."""
        ...

    def agent_memory(self, channel: str) -> np.ndarray:
        """The per-agent (N, S, S) memory of a DYNAMIC channel that is not world-driven."""
        ...
