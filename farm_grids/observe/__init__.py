"""Observations: channels, and building them over a narrow protocol of sources (torch only in observe.tensors)."""

from farm_grids.observe.building import build_observations, fov_disk, observe_agents
from farm_grids.observe.channels import ChannelBehavior, ChannelHandler, ChannelRegistry, ChannelSpec
from farm_grids.observe.context import ObservationContext
from farm_grids.observe.default_channels import DEFAULT_CHANNELS, default_registry
from farm_grids.observe.sources import ObservationSources

__all__ = [
    "ChannelBehavior",
    "ChannelHandler",
    "ChannelRegistry",
    "ChannelSpec",
    "DEFAULT_CHANNELS",
    "ObservationContext",
    "ObservationSources",
    "build_observations",
    "default_registry",
    "fov_disk",
    "observe_agents",
]
