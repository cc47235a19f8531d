"""The three grid managers of one world: built from its config, exported to and loaded from its WorldState."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from farm_grids.config import SimulationConfig
from farm_grids.managers.base import GridManager
from farm_grids.managers.environmental import EnvironmentalGridManager
from farm_grids.managers.resources import ResourceManager
from farm_grids.managers.temporal import TemporalGridManager
from farm_grids.state import LazyMapping, TemporalState, WorldState

__all__ = ["WorldManagers", "build_managers", "export_layers", "load_layers"]


@dataclass(frozen=True)
class WorldManagers:
    """The environmental, temporal (None: events kept as sparse lists) and resource managers of one world."""

    environmental: EnvironmentalGridManager
    temporal: TemporalGridManager | None
    resources: ResourceManager

    @property
    def all(self) -> tuple[GridManager, ...]:
        """Every manager, in the order they are built, flushed and closed."""
        found: list[GridManager] = [self.environmental]
        if self.temporal is not None:
            found.append(self.temporal)
        return (*found, self.resources)


def build_managers(
    config: SimulationConfig, *, temporal_world_layers: bool, environmental: EnvironmentalGridManager | None = None,
    temporal: TemporalGridManager | None = None, resources: ResourceManager | None = None,
    storage_options: object = None,
) -> WorldManagers:
    """The managers ``config`` asks for, each on the store its toggle selects; given ones are used as they are.

    A failure part-way closes the managers already there, deleting their files: a failed
    set-up leaves no files behind.
    """
    built: list[GridManager] = []
    try:
        environmental = environmental or EnvironmentalGridManager(
            config.height, config.width, memmap_config=config.memmap, simulation_id=config.simulation_id,
            storage_options=storage_options,
        )
        built.append(environmental)
        if temporal is None and temporal_world_layers:
            temporal = TemporalGridManager(
                config.height, config.width, memmap_config=config.memmap, simulation_id=config.simulation_id,
                observation_config=config.observation, storage_options=storage_options,
            )
        if temporal is not None:
            built.append(temporal)
        resources = resources or ResourceManager(
            config.height, config.width, resource_config=config.resources, memmap_config=config.memmap,
            simulation_id=config.simulation_id, seed=config.seed, storage_options=storage_options,
        )
        built.append(resources)
    except BaseException:
        for manager in built:
            manager.close(delete_files=True)
        raise
    return WorldManagers(environmental, temporal, resources)


def export_layers(
    environmental: EnvironmentalGridManager, resources: ResourceManager, temporal: TemporalGridManager | None,
) -> tuple[dict[str, Mapping[str, np.ndarray]], TemporalState | None, dict[str, np.ndarray]]:
    """(layers by group, decay state, resource bookkeeping); each grid is read from its store when accessed."""
    managers = {"env": environmental, "resources": resources, "temporal": temporal}
    layers: dict[str, Mapping[str, np.ndarray]] = {
        group: LazyMapping(manager.names(), manager.store.read) for group, manager in managers.items()
        if manager is not None
    }
    decay = None
    if temporal is not None:
        exported = temporal.export_state()
        decay = TemporalState(exported["gammas"], exported["has_data"], exported["tiles"])  # type: ignore[arg-type]
    return layers, decay, resources.export_state()


def load_layers(
    state: WorldState, environmental: EnvironmentalGridManager, resources: ResourceManager,
    temporal: TemporalGridManager | None,
) -> None:
    """Write ``state``'s grids and bookkeeping into fresh managers, one grid in memory at a time."""
    for name in state.layers["env"]:
        environmental.set(name, state.layers["env"][name])
    if temporal is not None and state.temporal is not None:
        grids = state.layers["temporal"]
        for name in temporal.channel_names:
            temporal.store.write(name, grids[name])
        temporal.load_state({"gammas": state.temporal.gammas, "has_data": state.temporal.has_data,
                             "tiles": {name: state.temporal.tiles[name] for name in temporal.channel_names}})
    grid = resources.GRID
    resources.store.write(grid, state.layers["resources"][grid])
    resources.load_state({key: state.resource_sites[key] for key in ("sites", "below")})
