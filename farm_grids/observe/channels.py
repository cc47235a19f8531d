"""Observation channels: a registry of named channels, each with a behaviour and a handler."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from farm_grids.errors import GridExistsError, InvalidGridSpecError, UnknownChannelError
from farm_grids.observe.context import ObservationContext
from farm_grids.values import validate_gamma

__all__ = ["ChannelBehavior", "ChannelHandler", "ChannelRegistry", "ChannelSpec", "UnknownChannelError"]


class ChannelBehavior(enum.Enum):
    """How a channel's content lives across ticks."""

    INSTANT = "instant"  # recomputed every tick, nothing carried over
    DYNAMIC = "dynamic"  # carries over and decays by gamma each tick
    PERSISTENT = "persistent"  # mirrors long-lived world state


# A handler writes every cell of ``out`` (N, S, S) for the agents in ``ctx``.
ChannelHandler = Callable[[ObservationContext, np.ndarray], None]


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
