"""Observation channels: a registry of named channels, each with a behaviour and a handler."""

from __future__ import annotations

import enum
from functools import partial
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np

from farm_grids.errors import GridExistsError, InvalidGridSpecError, UnknownChannelError
from farm_grids.values import validate_gamma

if TYPE_CHECKING:
    from farm_grids.observation import ObservationContext

__all__ = [
    "ChannelBehavior",
    "ChannelRegistry",
    "ChannelSpec",
    "DEFAULT_CHANNELS",
    "UnknownChannelError",
    "default_registry",
]



class ChannelBehavior(enum.Enum):
    """How a channel's content lives across ticks."""

    INSTANT = "instant"  # recomputed every tick, nothing carried over
    DYNAMIC = "dynamic"  # carries over and decays by gamma each tick
    PERSISTENT = "persistent"  # mirrors long-lived world state


# A handler writes every cell of ``out`` (N, S, S) for the agents in ``ctx``.
ChannelHandler = Callable[["ObservationContext", np.ndarray], None]


@dataclass(frozen=True)
class ChannelSpec:
    """One observation channel.

    ``world_layer`` names the temporal world grid that feeds a DYNAMIC channel: such a
    channel is world-driven (the world already decayed it) and is never decayed per agent.
    ``gamma`` is the per-agent decay of a DYNAMIC channel that is not world-driven.
    """

    name: str
    behavior: ChannelBehavior
    handler: ChannelHandler
    gamma: float | None = None
    world_layer: str | None = None


class ChannelRegistry:
    """An ordered set of channels; the index of a channel is its position in observations."""

    def __init__(self, specs: tuple[ChannelSpec, ...] = ()) -> None:
        self._specs: dict[str, ChannelSpec] = {}
        for spec in specs:
            self.add(spec)

    def register(
        self,
        name: str,
        behavior: ChannelBehavior | str,
        handler: ChannelHandler,
        *,
        gamma: float | None = None,
    ) -> int:
        """Add a custom channel at the end; returns its index."""
        kind = behavior if isinstance(behavior, ChannelBehavior) else _behavior(behavior)
        if kind is ChannelBehavior.DYNAMIC:
            if gamma is None:
                raise InvalidGridSpecError(f"DYNAMIC channel {name!r} needs a finite gamma, got {gamma!r}")
            gamma = validate_gamma(gamma, repr(name))
        if not callable(handler):
            raise InvalidGridSpecError(f"handler for {name!r} must be callable")
        return self.add(ChannelSpec(name, kind, handler, gamma=gamma))

    def add(self, spec: ChannelSpec) -> int:
        if not isinstance(spec.name, str) or not spec.name:
            raise InvalidGridSpecError(f"channel name must be a non-empty string, got {spec.name!r}")
        if spec.name in self._specs:
            raise GridExistsError(f"channel {spec.name!r} is already registered")
        self._specs[spec.name] = spec
        return len(self._specs) - 1

    def copy(self) -> ChannelRegistry:
        return ChannelRegistry(tuple(self._specs.values()))

    def index(self, name: str) -> int:
        try:
            return list(self._specs).index(name)
        except ValueError:
            raise UnknownChannelError(
                f"unknown channel {name!r} (known: {', '.join(self._specs)})"
            ) from None

    def spec(self, name: str) -> ChannelSpec:
        self.index(name)
        return self._specs[name]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def __iter__(self) -> Iterator[ChannelSpec]:
        return iter(tuple(self._specs.values()))

    def __contains__(self, name: object) -> bool:
        return name in self._specs


def _behavior(value: str) -> ChannelBehavior:
    try:
        return ChannelBehavior[value.upper()]
    except KeyError:
        raise InvalidGridSpecError(f"unknown channel behaviour {value!r}") from None


# -- the default handlers ----------------------------------------------------------------
def _self_hp(ctx: ObservationContext, out: np.ndarray) -> None:
    out[...] = 0
    out[:, ctx.radius, ctx.radius] = ctx.hp


def _allies_hp(ctx: ObservationContext, out: np.ndarray) -> None:
    ctx.team_hp_windows(out, allies=True)


def _enemies_hp(ctx: ObservationContext, out: np.ndarray) -> None:
    ctx.team_hp_windows(out, allies=False)


def _resources(ctx: ObservationContext, out: np.ndarray) -> None:
    resources = ctx.env.resources
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
    empty = ctx.env.scratch("known-empty", out.shape, dtype=np.bool_)
    np.equal(planes[0], 0, out=empty)
    if len(planes) > 1:
        zero = ctx.env.scratch("known-empty-plane", out.shape, dtype=np.bool_)
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
