"""WorldState: one world as a value (layers, agents, memories, tick, RNG state, config, channels) that Environment exports and is built from."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np

from farm_grids.config import SimulationConfig

__all__ = ["LAYER_GROUPS", "LazyMapping", "SparseEvents", "TemporalState", "WorldState"]

# The layer groups of a world, in the order they are written: one per grid manager.
LAYER_GROUPS = ("env", "resources", "temporal")

T = TypeVar("T")


class LazyMapping(Mapping[str, T], Generic[T]):
    """Named values read on access, one at a time, through ``load``: nothing is held between reads.

    Grids are as large as the world, so a world larger than RAM streams through export and
    restore one grid at a time. ``load`` is also asked for names not listed, so it decides
    what a missing one is (a store's GridNotFoundError, a snapshot's SnapshotError).
    """

    def __init__(self, names: Iterable[str], load: Callable[[str], T]) -> None:
        self._names = tuple(names)
        self._load = load

    def __getitem__(self, name: str) -> T:
        return self._load(name)

    def __contains__(self, name: object) -> bool:
        return name in self._names  # without reading the value

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return f"LazyMapping({list(self._names)!r})"


@dataclass(frozen=True)
class SparseEvents:
    """A transient channel's events as a sparse list: sorted flat cells ``y * width + x`` and one value each."""

    cells: np.ndarray
    values: np.ndarray


@dataclass(frozen=True)
class TemporalState:
    """What decaying the temporal world grids needs besides the grids: gammas, which held data, active tiles."""

    gammas: Mapping[str, float]
    has_data: Mapping[str, bool]
    tiles: Mapping[str, np.ndarray]  # per channel, the (tiles_y, tiles_x) mask of tiles that may hold data


@dataclass(frozen=True)
class WorldState:
    """Everything a world is, as data: ``Environment.export_state()`` makes one, ``Environment.from_state`` builds one.

    ``layers`` maps each group of ``LAYER_GROUPS`` to its grids by name ("env": the
    environmental layers that were set, "resources": the resource grid, "temporal": the
    transient world grids, absent when the world keeps its events as sparse lists);
    ``temporal`` is None exactly then. ``agents`` holds the agent table's columns,
    ``memories`` the per-agent (N, S, S) memories of the agent-decayed channels, ``rng``
    numpy's bit generator state, ``channels`` the observation channels' names in order
    (handlers are code, not data). Grids may be read on access (``LazyMapping``): an
    exported state's grids come from the world's stores, so read them while it is open.
    """

    config: SimulationConfig
    channels: tuple[str, ...]
    tick: int
    rng: Mapping[str, Any]
    layers: Mapping[str, Mapping[str, np.ndarray]]
    agents: Mapping[str, np.ndarray]
    memories: Mapping[str, np.ndarray]
    temporal: TemporalState | None
    resource_sites: Mapping[str, np.ndarray]  # "sites" and "below": the regrowth bookkeeping
    sparse_events: Mapping[str, SparseEvents]

    @property
    def world(self) -> tuple[int, int]:
        """(height, width) of every grid."""
        return self.config.height, self.config.width

    @property
    def temporal_world_layers(self) -> bool:
        """Whether transient events live in dense world grids (else as sparse lists)."""
        return self.temporal is not None
