"""The 13 default channels in their fixed order, and the handlers that fill them."""

from __future__ import annotations

from functools import partial

import numpy as np

from farm_grids.observe.channels import ChannelBehavior, ChannelRegistry, ChannelSpec
from farm_grids.observe.context import ObservationContext

__all__ = ["DEFAULT_CHANNELS", "default_registry"]


def _self_hp(ctx: ObservationContext, out: np.ndarray) -> None:
    out[...] = 0
    out[:, ctx.radius, ctx.radius] = ctx.hp


def _allies_hp(ctx: ObservationContext, out: np.ndarray) -> None:
    ctx.team_hp_windows(out, allies=True)


def _enemies_hp(ctx: ObservationContext, out: np.ndarray) -> None:
    ctx.team_hp_windows(out, allies=False)


def _resources(ctx: ObservationContext, out: np.ndarray) -> None:
    resources = ctx.sources.resources
    ctx.gather(resources, resources.GRID, out, normalize_by=resources.max_amount)


def _environmental(layer: str, ctx: ObservationContext, out: np.ndarray) -> None:
    ctx.gather_layer(layer, out)


def _visibility(ctx: ObservationContext, out: np.ndarray) -> None:
    ctx.gather_layer("VISIBILITY", out, unset_value=1.0)
    out *= ctx.fov_disk


def _known_empty(ctx: ObservationContext, out: np.ndarray) -> None:
    # Visible cells holding no resource, obstacle or agent: derived from channels
    # already gathered this tick, so no extra world read. The masks live in two bool
    # buffers kept across ticks (fresh ones would fault their pages in every pass), and
    # the last AND with the disk writes the float plane directly (no multiply pass).
    planes = [plane for name in _OCCUPANCY_CHANNELS if (plane := ctx.computed(name)) is not None]
    if not planes:
        out[...] = ctx.fov_disk
        return
    empty = ctx.sources.scratch("known-empty", out.shape, dtype=np.bool_)
    np.equal(planes[0], 0, out=empty)
    if len(planes) > 1:
        zero = ctx.sources.scratch("known-empty-plane", out.shape, dtype=np.bool_)
        for plane in planes[1:]:
            np.equal(plane, 0, out=zero)
            np.logical_and(empty, zero, out=empty)
    np.logical_and(empty, ctx.fov_disk != 0, out=out)


_OCCUPANCY_CHANNELS = ("RESOURCES", "OBSTACLES", "ALLIES_HP", "ENEMIES_HP", "SELF_HP")


def _transient(channel: str, ctx: ObservationContext, out: np.ndarray) -> None:
    ctx.gather_transient(channel, out)


def _zeros(ctx: ObservationContext, out: np.ndarray) -> None:
    out[...] = 0  # GOAL and LANDMARKS: placeholders a simulation fills via a custom handler


DEFAULT_CHANNELS: tuple[ChannelSpec, ...] = (
    ChannelSpec("SELF_HP", ChannelBehavior.INSTANT, _self_hp),
    ChannelSpec("ALLIES_HP", ChannelBehavior.INSTANT, _allies_hp),
    ChannelSpec("ENEMIES_HP", ChannelBehavior.INSTANT, _enemies_hp),
    ChannelSpec("RESOURCES", ChannelBehavior.PERSISTENT, _resources),
    ChannelSpec("OBSTACLES", ChannelBehavior.PERSISTENT, partial(_environmental, "OBSTACLES")),
    ChannelSpec("TERRAIN_COST", ChannelBehavior.PERSISTENT, partial(_environmental, "TERRAIN_COST")),
    ChannelSpec("VISIBILITY", ChannelBehavior.INSTANT, _visibility),
    ChannelSpec("KNOWN_EMPTY", ChannelBehavior.INSTANT, _known_empty),
    ChannelSpec("DAMAGE_HEAT", ChannelBehavior.DYNAMIC, partial(_transient, "DAMAGE_HEAT"), world_layer="DAMAGE_HEAT"),
    ChannelSpec("TRAILS", ChannelBehavior.DYNAMIC, partial(_transient, "TRAILS"), world_layer="TRAILS"),
    ChannelSpec("ALLY_SIGNAL", ChannelBehavior.DYNAMIC, partial(_transient, "ALLY_SIGNAL"), world_layer="ALLY_SIGNAL"),
    ChannelSpec("GOAL", ChannelBehavior.PERSISTENT, _zeros),
    ChannelSpec("LANDMARKS", ChannelBehavior.PERSISTENT, _zeros),
)


def default_registry() -> ChannelRegistry:
    """A fresh registry holding the 13 default channels in their fixed order."""
    return ChannelRegistry(DEFAULT_CHANNELS)
