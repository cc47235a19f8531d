"""Environment: composes the grid managers, holds agents, and builds their observations."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import TracebackType

import numpy as np
import numpy.typing as npt
import torch

from farm_grids.agent_memory import AgentMemories
from farm_grids.agents import AgentTable, HpRaster
from farm_grids.config import SimulationConfig
from farm_grids.errors import InvalidGridSpecError, StoreClosedError
from farm_grids.limits import check_request
from farm_grids.managers import (TEMPORAL_CHANNELS, EnvironmentalGridManager, GridManager, ResourceManager,
                                 TemporalGridManager)
from farm_grids.managers.temporal import configured_gamma
from farm_grids.managers.world import build_managers, export_layers, load_layers
from farm_grids.observe import ChannelBehavior, ChannelRegistry, default_registry, fov_disk, observe_agents
from farm_grids.observe.sources import EventWindows, WindowSource
from farm_grids.observe.tensors import resolve_device, to_tensor
from farm_grids.scratch import ScratchBuffers
from farm_grids.snapshot import restore_world, write_snapshot
from farm_grids.sparse_events import SparseEventLayer
from farm_grids.state import SparseEvents, WorldState

__all__ = ["Environment"]


class Environment:
    """One simulated world: environmental layers, temporal channels, resources and agents.

    Each manager composes one store: the backend ``config.memmap.backend`` names where its
    ``config.memmap.use_for_*`` toggle is on, RAM otherwise. ``memmap.mode`` "w+" creates the
    grids; "r+" resumes a saved run in place (its manifests are found by ``simulation_id``)
    and "r" opens a shared world read-only. ``temporal_world_layers=False`` keeps transient
    events as sparse lists instead of dense world grids (the fallback path of the transient
    channels). ``storage_options`` (endpoint, credentials) go to an object-storage backend.
    ``rng`` is the world's random generator: seeded from ``config.seed``, saved by ``snapshot``.
    A world is also a value: ``export_state()`` gives its ``WorldState``, ``from_state`` builds
    one from it; observations read it through ``ObservationSources``, which it satisfies.
    """

    def __init__(
        self,
        config: SimulationConfig | None = None,
        *,
        channels: ChannelRegistry | None = None,
        temporal_world_layers: bool = True,
        environmental: EnvironmentalGridManager | None = None,
        temporal: TemporalGridManager | None = None,
        resources: ResourceManager | None = None,
        storage_options: object = None,
    ) -> None:
        self.config = config if config is not None else SimulationConfig()
        cfg = self.config
        self.temporal_world_layers = bool(temporal_world_layers)
        self.rng = np.random.default_rng(cfg.seed)
        self.device = resolve_device(cfg.observation.device)
        self.height, self.width = cfg.height, cfg.width
        self.channels = channels.copy() if channels is not None else default_registry()
        size = cfg.observation.size
        # One agent's observation (and the field-of-view mask's int64 temporaries) must fit.
        check_request(size * size * (4 * len(self.channels) + 24), f"observation.radius={cfg.observation.radius}")
        self.fov_disk = fov_disk(cfg.observation.radius, cfg.observation.fov_radius)
        managers = build_managers(cfg, temporal_world_layers=temporal_world_layers, environmental=environmental,
                                  temporal=temporal, resources=resources, storage_options=storage_options)
        self.environmental, self.temporal, self.resources = managers.environmental, managers.temporal, managers.resources
        self._managers: list[GridManager] = list(managers.all)
        self.sparse_events = {
            name: SparseEventLayer(cfg.height, cfg.width) for name in TEMPORAL_CHANNELS
        }
        self.agents = AgentTable(cfg.height, cfg.width)
        self.hp_raster = HpRaster(self.agents)
        self._memory = AgentMemories(cfg.observation.size)
        self._scratch = ScratchBuffers()
        self.tick = 0
        self._closed = False

    # -- agents -----------------------------------------------------------------------------
    def add_agents(self, ys: object, xs: object, *, team: object = 0, hp: object = 1.0) -> np.ndarray:
        """Add agents at ``(ys[i], xs[i])``; returns their ids (dense, in order)."""
        self._check_open()
        return self.agents.add(ys, xs, team=team, hp=hp)

    def move_agents(self, ids: object, ys: object, xs: object) -> None:
        self._check_open()
        self.agents.move(ids, ys, xs)

    def set_hp(self, ids: object, hp: object) -> None:
        self._check_open()
        self.agents.set_hp(ids, hp)

    def kill(self, ids: object) -> None:
        self._check_open()
        self.agents.kill(ids)

    @property
    def num_agents(self) -> int:
        return len(self.agents)

    # -- world ------------------------------------------------------------------------------
    def set_environmental_layer(self, name: str, grid: object) -> None:
        self._check_open()
        self.environmental.set(name, grid)

    def deposit_temporal_events(
        self,
        channel: str,
        ys: object,
        xs: object,
        values: object,
        *,
        accumulate: bool = True,
        clip_max: float | None = 1.0,
    ) -> int:
        """Deposit events on a transient channel: into its world grid, or its sparse list."""
        self._check_open()
        if self.temporal is not None:
            return self.temporal.deposit(channel, ys, xs, values, accumulate=accumulate, clip_max=clip_max)
        self.channels.index(channel)
        if channel not in self.sparse_events:
            raise InvalidGridSpecError(f"channel {channel!r} is not a transient channel")
        return self.sparse_events[channel].deposit(ys, xs, values, accumulate=accumulate, clip_max=clip_max)

    @property
    def world_driven_channels(self) -> frozenset[str]:
        """DYNAMIC channels fed by a world grid that the world decays; never decayed per agent."""
        return frozenset(
            spec.name
            for spec in self.channels
            if spec.behavior is ChannelBehavior.DYNAMIC and spec.world_layer in self.sparse_events
        )

    def scratch(self, key: str, shape: tuple[int, ...], dtype: npt.DTypeLike = np.float32) -> np.ndarray:
        """A work buffer kept across ticks (contents undefined): fresh pages cost faults."""
        self._check_open()
        return self._scratch.get(key, shape, dtype)

    def agent_memory(self, channel: str) -> np.ndarray:
        """Per-agent (N, S, S) memory of a DYNAMIC channel that is not world-driven."""
        self._check_open()
        return self._memory.get(channel, self.num_agents)

    def update(self) -> None:
        """One tick: world-level decay, resource regrowth, per-agent decay, flush per policy."""
        self._check_open()
        obs = self.config.observation
        if self.temporal is not None:
            self.temporal.apply_decay()
        else:
            for name, layer in self.sparse_events.items():
                layer.decay(configured_gamma(obs, name), obs.decay_floor)
        self.resources.regrow()
        self._decay_agent_memory()
        if self.config.memmap.flush_policy == "tick":
            self.flush()  # once per tick for every store, not once per channel
        self.tick += 1

    def _decay_agent_memory(self) -> None:
        agent_decayed = [
            spec for spec in self.channels
            if spec.behavior is ChannelBehavior.DYNAMIC and spec.name not in self.world_driven_channels
        ]
        if not agent_decayed or self.num_agents == 0:
            return
        live = np.flatnonzero(self.agents.alive)
        fresh = self._observe_array(live, batched=True)
        for spec in agent_decayed:
            memory = self.agent_memory(spec.name)
            plane = fresh[:, self.channels.index(spec.name)]
            memory[live] = plane * np.float32(spec.gamma)

    # -- observation sources (ObservationSources) -------------------------------------------
    @property
    def world_shape(self) -> tuple[int, int]:
        return self.height, self.width

    @property
    def observation_radius(self) -> int:
        return self.config.observation.radius

    def environmental_layer(self, name: str) -> WindowSource | None:
        return self.environmental if self.environmental.is_set(name) else None

    def transient_grid(self, channel: str) -> WindowSource | None:
        temporal = self.temporal
        return temporal if temporal is not None and temporal.has_any_data(channel) else None

    def transient_events(self, channel: str) -> EventWindows | None:
        return self.sparse_events[channel] if self.temporal is None else None

    # -- observations -------------------------------------------------------------------------
    def _observe_array(
        self, ids: np.ndarray, *, batched: bool, out: np.ndarray | None = None
    ) -> np.ndarray:
        if out is None:
            shape = self.observation_shape(ids.size)
            check_request(int(np.prod(shape, dtype=np.int64)) * 4, f"observations of {ids.size} agents {shape}")
            out = np.empty(shape, dtype=np.float32)
        return observe_agents(self, self.channels, ids, out, batched=batched)

    def observation_shape(self, count: int | None = None) -> tuple[int, int, int, int]:
        """``(N, C, S, S)`` of ``observe_all`` (N = every agent when ``count`` is None)."""
        size = self.config.observation.size
        n = self.num_agents if count is None else count
        return (n, len(self.channels), size, size)

    def observe(self, agent_id: int) -> torch.Tensor:
        """One agent's (C, S, S) observation, read with one window per layer (per-agent path)."""
        self._check_open()
        ids = self.agents.check_ids(agent_id)
        if ids.size != 1:
            raise InvalidGridSpecError(f"observe takes one agent id, got {agent_id!r}")
        return to_tensor(self._observe_array(ids, batched=False)[0], self.config.observation.dtype, self.device)

    def observe_all(self, *, out: torch.Tensor | None = None) -> torch.Tensor:
        """Every agent's observation as one (N, C, S, S) tensor, in agent-id order.

        Each world layer is read once for all agents. Without ``out`` the tensor is freshly
        allocated on every call, so it may be kept across ticks; for float32 on the CPU it
        shares memory with a numpy array (``tensor.numpy()``) and costs no copy. Passing
        last tick's tensor as ``out`` (float32, CPU, contiguous, right shape) refills it in
        place — faster, since no fresh pages are faulted in — and returns it: the previous
        contents are then overwritten.
        """
        self._check_open()
        ids = np.arange(self.num_agents, dtype=np.intp)
        if out is None:
            return to_tensor(self._observe_array(ids, batched=True), self.config.observation.dtype, self.device)
        expected = self.observation_shape()
        if (
            not isinstance(out, torch.Tensor)
            or out.dtype != torch.float32
            or out.device.type != "cpu"
            or out.requires_grad  # written in place through numpy, which autograd cannot see
            or not out.is_contiguous()
            or tuple(out.shape) != expected
        ):
            raise InvalidGridSpecError(
                f"out must be a contiguous float32 CPU tensor of shape {expected} without requires_grad, got "
                f"{getattr(out, 'dtype', type(out).__name__)} {tuple(getattr(out, 'shape', ()))}"
            )
        self._observe_array(ids, batched=True, out=out.numpy())
        return out

    # -- snapshots ----------------------------------------------------------------------------
    def snapshot(self, url: str, *, storage_options: object = None, overwrite: bool = False) -> None:
        """Write the whole world (every layer, agents, memories, tick, RNG, config) to a zarr v3 group.

        ``url`` is a local path or an ``s3://`` URL; never the working directory, a filesystem
        root or a bucket root. It is written only if absent, empty, or a committed farm-grids
        snapshot (replaced only with ``overwrite=True``); anything else is SnapshotError
        naming what is there, and nothing is touched. The data goes into a new generation
        beside the old one and the root's commit record is switched last, atomically, so a
        kill at any point leaves the old or the new snapshot restorable.
        """
        self._check_open()
        write_snapshot(self.export_state(), url, storage_options=storage_options, overwrite=overwrite)

    @classmethod
    def restore(
        cls, url: str, *, storage_options: object = None, backend: str | None = None,
        directory: str | None = None, channels: ChannelRegistry | None = None,
        expect: SimulationConfig | None = None,
    ) -> Environment:
        """A new Environment exactly where ``snapshot(url)`` left one, on any backend.

        ``backend`` ("ram", "memmap", "zarr", or any registered name) and ``directory`` (for
        file backends; a path or an ``s3://`` URL) override the saved config's storage;
        ``storage_options`` serve both the snapshot and an object-storage backend. ``expect``
        refuses a snapshot of another world size or seed. Custom channels need their
        registry passed as ``channels`` (handlers are code, not data). The snapshot is
        verified before and while it is read (zarr v3 only, a strictly typed record, exactly
        the recorded chunks, each array's checksum, sparse values held to the deposit rules):
        any mismatch is SnapshotError and no world is left behind.
        """
        registry = channels if channels is not None else default_registry()
        return restore_world(lambda world: cls.from_state(world, channels=registry, storage_options=storage_options),
                             url, storage_options=storage_options, backend=backend, directory=directory,
                             channels=registry.names, expect=expect)

    def export_state(self) -> WorldState:
        """This world as a ``WorldState``; its grids are read from the stores on access (while this world is open)."""
        self._check_open()
        layers, temporal, resource_sites = export_layers(self.environmental, self.resources, self.temporal)
        return WorldState(
            config=self.config,
            channels=self.channels.names,
            tick=int(self.tick),
            rng=self.rng.bit_generator.state,
            layers=layers,
            agents=self.agents.export_state(),
            memories=self.memory_state(),
            temporal=temporal,
            resource_sites=resource_sites,
            sparse_events={name: SparseEvents(layer.cells.copy(), layer.values.copy())
                           for name, layer in self.sparse_events.items()},
        )

    @classmethod
    def from_state(cls, state: WorldState, *, channels: ChannelRegistry | None = None,
                   storage_options: object = None) -> Environment:
        """A new Environment holding ``state``: stores built from ``state.config``, then every array loaded.

        Custom channels need their registry passed as ``channels`` (its names must be the
        state's). A failure while loading closes the new world, deleting the files it
        created (``memmap.mode`` "w+"), and re-raises.
        """
        registry = channels if channels is not None else default_registry()
        if tuple(registry.names) != tuple(state.channels):
            raise InvalidGridSpecError(f"the state has channels {list(state.channels)}, this registry "
                                       f"{list(registry.names)}")
        env = cls(state.config, channels=registry, temporal_world_layers=state.temporal_world_layers,
                  storage_options=storage_options)
        try:
            env._load_state(state)
        except BaseException:
            if env.config.memmap.mode == "w+":  # only files this call created are deleted
                env.config = replace(env.config, memmap=replace(env.config.memmap, delete_on_close=True))
            env.close()
            raise
        return env

    def _load_state(self, state: WorldState) -> None:
        """Every array of ``state`` into this fresh world, in the order a snapshot is best read."""
        load_layers(state, self.environmental, self.resources, self.temporal)
        self.agents.load_state({column: state.agents[column] for column in self.agents.COLUMNS})
        self.load_memory_state({name: state.memories[name] for name in state.memories})
        for channel, layer in self.sparse_events.items():
            events = state.sparse_events[channel]
            layer.cells, layer.values = events.cells.astype(np.intp), events.values
        self.tick = state.tick
        self.rng.bit_generator.state = dict(state.rng)

    def memory_state(self) -> dict[str, np.ndarray]:
        """The per-agent (N, S, S) memories of the DYNAMIC channels that are not world-driven."""
        return self._memory.export()

    def load_memory_state(self, memories: dict[str, np.ndarray]) -> None:
        self._check_open()
        self._memory.load(memories, self.channels.index)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError("this Environment is closed")

    # -- lifecycle ----------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to the initial world: no agents, no events, seeded resources; layers kept."""
        self._check_open()
        if self.temporal is not None:
            self.temporal.clear_all()
        for layer in self.sparse_events.values():
            layer.clear()
        self.resources.reset()
        self.agents.clear()
        self._memory.clear()
        self.tick = 0

    def files(self) -> list[Path]:
        return [path for manager in self._managers for path in manager.files()]

    @property
    def managers(self) -> tuple[GridManager, ...]:
        return tuple(self._managers)

    def flush(self) -> None:
        self._check_open()
        for manager in self._managers:
            manager.flush()

    def close(self) -> None:
        """Flush and close every store; delete the files when ``delete_on_close``."""
        if self._closed:
            return
        self._closed = True
        self._close_managers(delete_files=self.config.memmap.delete_on_close)
        self.hp_raster.close()

    def _close_managers(self, *, delete_files: bool) -> None:
        for manager in self._managers:
            manager.close(delete_files=delete_files)

    def __enter__(self) -> Environment:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
