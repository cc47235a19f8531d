"""Grid managers: environmental layers, decaying temporal channels and resources, each over ONE store."""

from farm_grids.managers.base import GridManager, make_store
from farm_grids.managers.environmental import ENVIRONMENTAL_LAYERS, EnvironmentalGridManager
from farm_grids.managers.resources import ResourceManager
from farm_grids.managers.temporal import TEMPORAL_CHANNELS, TemporalGridManager
from farm_grids.managers.tiles import ActiveTiles

__all__ = [
    "ActiveTiles",
    "ENVIRONMENTAL_LAYERS",
    "EnvironmentalGridManager",
    "GridManager",
    "ResourceManager",
    "TEMPORAL_CHANNELS",
    "TemporalGridManager",
    "make_store",
]
