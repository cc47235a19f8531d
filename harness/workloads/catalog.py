"""Every measured workload, defined once: built for a backend and size, run one unit, closed."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import numpy as np

from farm_grids.config import ObservationConfig, SimulationConfig
from farm_grids.environment import Environment
from farm_grids.managers import (
    ENVIRONMENTAL_LAYERS,
    TEMPORAL_CHANNELS,
    EnvironmentalGridManager,
    GridManager,
    ResourceManager,
    TemporalGridManager,
)
from farm_grids.sim import WorkloadDriver
from harness.errors import HarnessUsageError
from harness.workloads.micro import (
    SparseActiveDecay,
    StoreBatchedWindows,
    StoreFreshBatchedWindows,
    StoreWindows,
    TemporalDeposit,
)
from harness.workloads.base import (
    BACKENDS,
    SLOW_FADE_GAMMA,
    ObjectStorage,
    Workload,
    WorkloadParams,
    memmap_config,
    object_storage_backend,
)

RESOURCES = "RESOURCES"

__all__ = [
    "BACKENDS",
    "GATED_WORKLOADS",
    "ObjectStorage",
    "WORKLOADS",
    "Workload",
    "WorkloadParams",
    "WorkloadSpec",
    "build_workload",
    "memmap_config",
]

class _SingleWindowReads(Workload):
    """``reads`` single R-windows at fixed random centres, cycling over the grids."""

    grids: tuple[str, ...] = ()
    manager: GridManager

    def _prepare_reads(self) -> None:
        p = self.params
        ys, xs = self.centres(p.reads, p.size)
        r = p.radius
        names = [self.grids[i % len(self.grids)] for i in range(p.reads)]
        self._reads = [
            (name, y - r, y + r + 1, x - r, x + r + 1)
            for name, y, x in zip(names, ys.tolist(), xs.tolist())
        ]

    def run(self) -> object:
        read = self.manager.get_window
        last = None
        for name, y0, y1, x0, x1 in self._reads:
            last = read(name, y0, y1, x0, x1)
        return last


class ResourceWindows(_SingleWindowReads):
    grids = (RESOURCES,)

    def __init__(self, params: WorkloadParams) -> None:
        super().__init__(params)
        self.manager = ResourceManager(
            params.size, params.size, memmap_config=memmap_config(params), simulation_id=params.simulation_id, seed=params.seed,
        )
        self.managers.append(self.manager)
        self._prepare_reads()


class EnvironmentalWindows(_SingleWindowReads):
    grids = ENVIRONMENTAL_LAYERS

    def __init__(self, params: WorkloadParams) -> None:
        super().__init__(params)
        self.manager = EnvironmentalGridManager(
            params.size, params.size, memmap_config=memmap_config(params), simulation_id=params.simulation_id
        )
        self.managers.append(self.manager)
        for layer in self.grids:
            self.manager.set(layer, self.random_layer(params.size))
        self._prepare_reads()


def _dense_temporal(params: WorkloadParams, rng: np.random.Generator) -> TemporalGridManager:
    """A temporal manager whose three channels hold data in every tile."""
    manager = TemporalGridManager(params.size, params.size, memmap_config=memmap_config(params), simulation_id=params.simulation_id)
    for channel in TEMPORAL_CHANNELS:
        # Values in [1, 2): many ticks of decay stay far from float32 denormals.
        manager.store.write(channel, 1.0 + rng.random((params.size, params.size), dtype=np.float32))
        manager.mark_all_active(channel)  # written whole, outside deposit(): every tile holds data
    return manager


class TemporalWindows(_SingleWindowReads):
    grids = TEMPORAL_CHANNELS

    def __init__(self, params: WorkloadParams) -> None:
        super().__init__(params)
        self.manager = _dense_temporal(params, self.rng)
        self.managers.append(self.manager)
        self._prepare_reads()


class BatchedWindows(Workload):
    """One ``get_windows`` gather of ``agents`` R-windows into a reused buffer."""

    def __init__(self, params: WorkloadParams) -> None:
        super().__init__(params)
        self.manager = EnvironmentalGridManager(
            params.size, params.size, memmap_config=memmap_config(params), simulation_id=params.simulation_id
        )
        self.managers.append(self.manager)
        self.manager.set("OBSTACLES", self.random_layer(params.size))
        self.ys, self.xs = self.centres(params.agents, params.size)
        side = 2 * params.radius + 1
        self.out = np.empty((params.agents, side, side), dtype=np.float32)

    def run(self) -> object:
        return self.manager.get_windows("OBSTACLES", self.ys, self.xs, self.params.radius, out=self.out)


class TemporalDecay(Workload):
    """``apply_decay`` of all three channels, every tile active (dense)."""

    def __init__(self, params: WorkloadParams) -> None:
        super().__init__(params)
        self.manager = _dense_temporal(params, self.rng)
        self.managers.append(self.manager)
        for channel in TEMPORAL_CHANNELS:
            self.manager.set_gamma(channel, SLOW_FADE_GAMMA)  # the cost of a multiply is the same

    def run(self) -> object:
        self.manager.apply_decay()
        return None


def simulation_config(params: WorkloadParams) -> SimulationConfig:
    """The environment config of the end-to-end workloads for ``params``."""
    return SimulationConfig(
        width=params.size,
        height=params.size,
        seed=params.seed,
        simulation_id=params.simulation_id,
        memmap=memmap_config(params),
        observation=ObservationConfig(radius=params.radius),
    )


def build_environment(config: SimulationConfig) -> Environment:
    """An Environment over ``config``: every store comes from the registry by name (``memmap.backend``)."""
    return Environment(config)


def _environment(
    params: WorkloadParams, rng: np.random.Generator, workload: Workload
) -> tuple[Environment, WorkloadDriver]:
    env = build_environment(simulation_config(params))
    try:
        for layer in ENVIRONMENTAL_LAYERS:
            env.set_environmental_layer(layer, rng.random((params.size, params.size), dtype=np.float32))
        driver = WorkloadDriver(env, params.agents, teams=2, seed=params.seed)
        driver.run(3)  # trails, signals, heat and consumption exist before timing starts
    except BaseException:
        env.close()
        raise
    return env, driver


class ObserveAll(Workload):
    """End to end: ``observe_all`` for every agent of the workload driver (13 channels)."""

    def __init__(self, params: WorkloadParams) -> None:
        super().__init__(params)
        self.env, self.driver = _environment(params, self.rng, self)

    def run(self) -> object:
        assert self.env is not None
        return self.env.observe_all()


class WritePath(Workload):
    """One driver tick: moves, deposits, consumption, ``update()`` and flush per policy."""

    def __init__(self, params: WorkloadParams) -> None:
        super().__init__(params)
        self.env, self.driver = _environment(params, self.rng, self)

    def run(self) -> object:
        return self.driver.step()


@dataclass(frozen=True)
class FrontierPaths:
    """Agents that each tick step ``2r+1`` cells into territory no window has read.

    Half walk +x along row lanes of the top band, half +y along column lanes of the bottom
    band (rows-layout pages favour x, tiles neither). Lanes lie ``2r+1`` apart, the bands a
    lane apart, and the agents of a lane are spaced evenly around it (positions wrap within
    the band), so no two windows of any ticks overlap for ``fresh_ticks`` ticks.
    """

    size: int
    agents: int
    radius: int
    seed: int = 0

    def __post_init__(self) -> None:
        if self.fresh_ticks < 1:
            raise HarnessUsageError(
                f"{self.agents} frontier agents cannot each step into new territory in a "
                f"{self.size}x{self.size} world at radius {self.radius}")

    @property
    def side(self) -> int:
        return 2 * self.radius + 1

    def _bands(self) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]]:
        """(count, lanes, lane origin, cycle start, cycle length) of the x walkers, then of the y walkers."""
        r, side, half = self.radius, self.side, self.size // 2
        walkers_x, walkers_y = self.agents // 2, self.agents - self.agents // 2
        lanes_x = max(0, (half - 1 - 2 * r) // side + 1)  # rows r + k*side whose windows end above half
        lanes_y = max(0, (self.size - 1 - 2 * r) // side + 1)
        start_y, end_y = half + side + r, self.size - r  # windows stay in [half + side, size)
        return (walkers_x, lanes_x, 0, self.size), (walkers_y, lanes_y, start_y, max(0, end_y - start_y))

    @property
    def fresh_ticks(self) -> int:
        """Ticks after the first during which every window is new (the lane spacing allows it)."""
        ticks = []
        for count, lanes, _, cycle in self._bands():
            if count == 0:
                continue
            if lanes == 0 or cycle < self.side:
                return 0
            spacing = cycle // -(-count // lanes)
            ticks.append(spacing // self.side - 1)
        return min(ticks, default=0)

    def positions(self, tick: int) -> tuple[np.ndarray, np.ndarray]:
        """Every agent's cell at ``tick`` (x walkers first, then y walkers)."""
        rng = np.random.default_rng(self.seed)
        ys, xs = [], []
        for heading, (count, lanes, start, cycle) in enumerate(self._bands()):
            index = np.arange(count)
            spacing = cycle // -(-count // lanes) if count else 1
            lane = self.radius + (index % lanes) * self.side
            along = start + ((index // lanes) * spacing + int(rng.integers(0, self.side)) + tick * self.side) % cycle
            ys.append(lane if heading == 0 else along)
            xs.append(along if heading == 0 else lane)
        return np.concatenate(ys).astype(np.int64), np.concatenate(xs).astype(np.int64)


class FrontierTick(Workload):
    """One tick into new territory: every agent steps ``2r+1`` cells on, deposits a trail, all are observed,
    the world updates. Environmental layers are dense (every page is data on disk), so a cold
    tick reads what a big world explored for the first time costs; ``repeat`` runs the same tick warm.
    """

    def __init__(self, params: WorkloadParams) -> None:
        super().__init__(params)
        self.paths = FrontierPaths(params.size, params.agents, params.radius, params.seed)
        self.env = build_environment(simulation_config(params))
        try:
            for layer in ENVIRONMENTAL_LAYERS:  # band by band: no grid-sized temporary
                self.env.environmental.fill(layer, 0.0)
                band = max(1, (1 << 22) // params.size)
                for top in range(0, params.size, band):
                    rows = slice(top, min(top + band, params.size))
                    self.env.environmental.store.fill(layer, float(self.rng.random()) + 0.5,
                                                      region=(rows, slice(0, params.size)))
            self.env.add_agents(*self.paths.positions(0), team=np.arange(params.agents) % 2, hp=1.0)
        except BaseException:
            self.env.close()
            raise
        self.out = None
        self.next_tick = 0

    def tick_at(self, tick: int) -> object:
        env = self.env
        assert env is not None
        ys, xs = self.paths.positions(tick)
        env.move_agents(np.arange(env.num_agents), ys, xs)
        env.deposit_temporal_events("TRAILS", ys, xs, 0.5)
        self.out = env.observe_all() if self.out is None else env.observe_all(out=self.out)
        env.update()
        return self.out

    def run(self) -> object:
        """The next tick: new territory every call."""
        self.next_tick += 1
        return self.tick_at(self.next_tick)

    def repeat(self) -> object:
        """The last tick again, its pages now cached."""
        return self.tick_at(self.next_tick)


@dataclass(frozen=True)
class WorkloadSpec:
    """A named workload and what it exercises."""

    name: str
    description: str
    factory: Callable[[WorkloadParams], Workload]
    structures: tuple[str, ...]  # memmap structures it reads or writes (criterion C7)
    gated: bool = True  # a row of the performance criterion C4


WORKLOADS: dict[str, WorkloadSpec] = {
    spec.name: spec
    for spec in (
        WorkloadSpec("resource_windows", "256 single R=6 resource windows", ResourceWindows, (RESOURCES,)),
        WorkloadSpec(
            "environmental_windows", "256 single R=6 windows over 3 layers", EnvironmentalWindows,
            ENVIRONMENTAL_LAYERS,
        ),
        WorkloadSpec(
            "temporal_windows", "256 single R=6 windows over 3 dense channels", TemporalWindows,
            TEMPORAL_CHANNELS,
        ),
        WorkloadSpec("batched_windows", "one get_windows gather of 1000 R=6 windows", BatchedWindows, ("OBSTACLES",)),
        WorkloadSpec(
            "observe_all", "observe_all, 1000 agents x 13 channels", ObserveAll,
            (*ENVIRONMENTAL_LAYERS, *TEMPORAL_CHANNELS, RESOURCES),
        ),
        WorkloadSpec(
            "write_path", "one tick: deposits, consume, update(), flush per policy", WritePath,
            (*TEMPORAL_CHANNELS, RESOURCES),
        ),
        WorkloadSpec("temporal_decay", "apply_decay of 3 dense channels", TemporalDecay, TEMPORAL_CHANNELS),
        # Engine micro-workloads: compared against plain-numpy baselines, not gated by C4.
        WorkloadSpec("store_windows", "256 single R windows from a bare store", StoreWindows, ("GRID",), gated=False),
        WorkloadSpec(
            "store_batched_windows", "one store gather of 10,000 R windows, reused out", StoreBatchedWindows,
            ("GRID",), gated=False,
        ),
        WorkloadSpec(
            "store_fresh_batched_windows", "one store gather of 10,000 R windows, fresh output",
            StoreFreshBatchedWindows, ("GRID",), gated=False,
        ),
        WorkloadSpec("temporal_deposit", "deposit of 10,000 trail events", TemporalDeposit, ("TRAILS",), gated=False),
        WorkloadSpec("sparse_decay", "apply_decay, 1 % of tiles active", SparseActiveDecay, ("TRAILS",), gated=False),
        WorkloadSpec(
            "frontier_tick", "one tick with every agent stepping into unread territory (dense layers)",
            FrontierTick, (*ENVIRONMENTAL_LAYERS, "TRAILS", RESOURCES), gated=False,
        ),
    )
}

GATED_WORKLOADS: tuple[str, ...] = tuple(name for name, spec in WORKLOADS.items() if spec.gated)


def build_workload(name: str, backend: str, size: int, *, storage: ObjectStorage | None = None,
                   **options: object) -> Workload:
    """Build workload ``name`` for ``backend`` ("ram" | "memmap") at ``size`` x ``size``.

    With ``storage``, the "memmap" side's file backend keeps its grids at that URL, reached
    with its storage options (the RAM side has no files and ignores it).
    """
    if name not in WORKLOADS:
        raise HarnessUsageError(f"unknown workload {name!r}; known: {', '.join(WORKLOADS)}")
    if backend not in BACKENDS:
        raise HarnessUsageError(f"unknown backend {backend!r}; use one of {BACKENDS}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 16:
        raise HarnessUsageError(f"size must be an integer >= 16, got {size!r}")
    params = WorkloadParams(backend=backend, size=size, **options)  # type: ignore[arg-type]
    if storage is None or backend == "ram":
        return WORKLOADS[name].factory(params)
    with object_storage_backend(params.file_backend, storage) as bound:  # only while the stores are built
        return WORKLOADS[name].factory(dataclasses.replace(params, file_backend=bound))

