"""Building (N, C, S, S) observations: every channel's handler over one context, then per-agent memories."""

from __future__ import annotations

import numpy as np

from farm_grids.observe.channels import ChannelBehavior, ChannelRegistry
from farm_grids.observe.context import ObservationContext
from farm_grids.observe.sources import ObservationSources

__all__ = ["build_observations", "fov_disk", "observe_agents"]


def fov_disk(radius: int, fov_radius: int) -> np.ndarray:
    """The (S, S) float32 field-of-view mask: 1 inside the disk of ``fov_radius``."""
    offsets = np.arange(-radius, radius + 1)
    dist2 = offsets[:, None] ** 2 + offsets[None, :] ** 2
    return (dist2 <= fov_radius * fov_radius).astype(np.float32)


def build_observations(sources: ObservationSources, channels: ChannelRegistry, agent_ids: np.ndarray,
                       out: np.ndarray, *, batched: bool) -> None:
    """Write the (n, C, S, S) observations of living ``agent_ids`` into ``out``, one plane per channel."""
    agents = sources.agents
    sources.hp_raster.refresh()
    ctx = ObservationContext(
        sources=sources,
        ys=agents.ys[agent_ids],
        xs=agents.xs[agent_ids],
        teams=agents.team[agent_ids],
        hp=agents.hp[agent_ids],
        radius=sources.observation_radius,
        fov_disk=sources.fov_disk,
        batched=batched,
    )
    world_driven = sources.world_driven_channels
    for index, spec in enumerate(channels):
        plane = out[:, index]
        spec.handler(ctx, plane)
        if spec.behavior is ChannelBehavior.DYNAMIC and spec.name not in world_driven:
            np.maximum(plane, sources.agent_memory(spec.name)[agent_ids], out=plane)
        ctx.planes[spec.name] = plane


def observe_agents(sources: ObservationSources, channels: ChannelRegistry, ids: np.ndarray, out: np.ndarray, *,
                   batched: bool) -> np.ndarray:
    """The observations of agents ``ids`` written into ``out`` (n, C, S, S) and returned: dead agents observe zeros."""
    live = sources.agents.alive[ids]
    if live.all():
        if ids.size:
            build_observations(sources, channels, ids, out, batched=batched)  # handlers write every cell
    else:
        part = np.empty((int(live.sum()),) + out.shape[1:], dtype=np.float32)
        if part.shape[0]:
            build_observations(sources, channels, ids[live], part, batched=batched)
        out[live] = part
        out[~live] = 0
    return out
