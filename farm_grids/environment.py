"""Environment: composes the grid managers, holds agents, and builds their observations."""

from __future__ import annotations

import math
from pathlib import Path
from types import TracebackType

import numpy as np
import numpy.typing as npt
import torch

from farm_grids.agents import AgentTable, HpRaster
from farm_grids.channels import ChannelBehavior, ChannelRegistry, default_registry
from farm_grids.config import SimulationConfig
from farm_grids.errors import InvalidGridSpecError, StoreClosedError
from farm_grids.limits import check_request
from farm_grids.managers import (
    TEMPORAL_CHANNELS,
    EnvironmentalGridManager,
    GridManager,
    ResourceManager,
    TemporalGridManager,
)
from farm_grids.managers.temporal import configured_gamma
from farm_grids.observation import build_observations, fov_disk, resolve_device, to_tensor
from farm_grids.sparse_events import SparseEventLayer

__all__ = ["Environment"]


def scratch_spec(shape: object, dtype: object) -> tuple[tuple[int, ...], np.dtype]:
    """A scratch buffer's shape (non-negative ints) and dtype, or InvalidGridSpecError."""
    dims = (shape,) if isinstance(shape, (int, np.integer)) else shape
    if not isinstance(dims, (tuple, list)) or not all(
            isinstance(d, (int, np.integer)) and not isinstance(d, (bool, np.bool_)) and d >= 0 for d in dims):
        raise InvalidGridSpecError(f"scratch shape must be non-negative integers, got {shape!r}")
    try:
        resolved = np.dtype(dtype)  # type: ignore[call-overload]
    except (TypeError, ValueError) as exc:
        raise InvalidGridSpecError(f"unsupported scratch dtype {dtype!r}") from exc
    return tuple(int(d) for d in dims), resolved


class Environment:
    """One simulated world: environmental layers, temporal channels, resources and agents.

    Each manager composes one store: the backend ``config.memmap.backend`` names where its
    ``config.memmap.use_for_*`` toggle is on, RAM otherwise. ``memmap.mode`` "w+" creates the
    grids; "r+" resumes a saved run in place (its manifests are found by ``simulation_id``)
    and "r" opens a shared world read-only. ``temporal_world_layers=False`` keeps transient
    events as sparse lists instead of dense world grids (the fallback path of the transient
    channels). ``storage_options`` (endpoint, credentials) go to an object-storage backend.
    ``rng`` is the world's random generator: seeded from ``config.seed``, saved by ``snapshot``.
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
        self._managers: list[GridManager] = []
        try:
            self.environmental = environmental or EnvironmentalGridManager(
                cfg.height, cfg.width, memmap_config=cfg.memmap, simulation_id=cfg.simulation_id,
                storage_options=storage_options,
            )
            self._managers.append(self.environmental)
            self.temporal = temporal
            if self.temporal is None and temporal_world_layers:
                self.temporal = TemporalGridManager(
                    cfg.height, cfg.width, memmap_config=cfg.memmap, simulation_id=cfg.simulation_id,
                    observation_config=cfg.observation, storage_options=storage_options,
                )
            if self.temporal is not None:
                self._managers.append(self.temporal)
            self.resources = resources or ResourceManager(
                cfg.height, cfg.width, resource_config=cfg.resources, memmap_config=cfg.memmap,
                simulation_id=cfg.simulation_id, seed=cfg.seed, storage_options=storage_options,
            )
            self._managers.append(self.resources)
        except BaseException:
            self._close_managers(delete_files=True)  # a failed set-up leaves no files behind
            raise
        self.sparse_events = {
            name: SparseEventLayer(cfg.height, cfg.width) for name in TEMPORAL_CHANNELS
        }
        self.agents = AgentTable(cfg.height, cfg.width)
        self.hp_raster = HpRaster(self.agents)
        self._memory: dict[str, np.ndarray] = {}
        self._scratch: dict[str, np.ndarray] = {}
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
        buffer = self._scratch.get(key)
        if buffer is None or buffer.shape != shape or buffer.dtype != dtype:
            dims, resolved = scratch_spec(shape, dtype)
            check_request(math.prod(dims) * resolved.itemsize, f"scratch buffer {key!r} {dims} {resolved.name}")
            buffer = self._scratch[key] = np.empty(dims, dtype=resolved)
        return buffer

    def agent_memory(self, channel: str) -> np.ndarray:
        """Per-agent (N, S, S) memory of a DYNAMIC channel that is not world-driven."""
        self._check_open()
        size = self.config.observation.size
        memory = self._memory.get(channel)
        if memory is None or memory.shape[0] < self.num_agents:
            check_request(self.num_agents * size * size * 4, f"agent memory of channel {channel!r}")
            grown = np.zeros((self.num_agents, size, size), dtype=np.float32)
            if memory is not None:
                grown[: memory.shape[0]] = memory
            self._memory[channel] = memory = grown
        return memory

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

    # -- observations -------------------------------------------------------------------------
    def _observe_array(
        self, ids: np.ndarray, *, batched: bool, out: np.ndarray | None = None
    ) -> np.ndarray:
        if out is None:
            shape = self.observation_shape(ids.size)
            check_request(int(np.prod(shape, dtype=np.int64)) * 4, f"observations of {ids.size} agents {shape}")
            out = np.empty(shape, dtype=np.float32)
        live = self.agents.alive[ids]
        if live.all():
            if ids.size:
                build_observations(self, ids, out, batched=batched)  # handlers write every cell
        else:
            part = np.empty((int(live.sum()),) + out.shape[1:], dtype=np.float32)
            if part.shape[0]:
                build_observations(self, ids[live], part, batched=batched)
            out[live] = part
            out[~live] = 0  # dead agents observe zeros
        return out

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
        from farm_grids.snapshot import write_snapshot

        self._check_open()
        write_snapshot(self, url, storage_options=storage_options, overwrite=overwrite)

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
        from farm_grids.snapshot import restore_environment

        return restore_environment(cls, url, storage_options=storage_options, backend=backend,
                                   directory=directory, channels=channels, expect=expect)

    def memory_state(self) -> dict[str, np.ndarray]:
        """The per-agent (N, S, S) memories of the DYNAMIC channels that are not world-driven."""
        return {name: memory.copy() for name, memory in self._memory.items()}

    def load_memory_state(self, memories: dict[str, np.ndarray]) -> None:
        self._check_open()
        size = self.config.observation.size
        for name, memory in memories.items():
            self.channels.index(name)
            if memory.ndim != 3 or memory.shape[1:] != (size, size) or memory.dtype != np.float32:
                raise InvalidGridSpecError(f"memory of {name!r} must be float32 (N, {size}, {size}), got {memory.shape}")
        self._memory = {name: memory.copy() for name, memory in memories.items()}

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
