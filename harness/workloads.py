"""Every measured workload, defined once: built for a backend and size, run one unit, closed."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from farm_grids.config import MemmapConfig, ObservationConfig, SimulationConfig
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
from farm_grids.stores import GridStore
from harness.errors import HarnessUsageError

__all__ = [
    "BACKENDS",
    "WORKLOADS",
    "Workload",
    "WorkloadParams",
    "StoreFactory",
    "WorkloadSpec",
    "build_workload",
    "memmap_config",
]

BACKENDS: tuple[str, ...] = ("ram", "memmap")
RESOURCES = "RESOURCES"


class StoreFactory(Protocol):
    """Builds the store a manager composes; MemmapManager and RamStore (the classes) qualify."""

    def __call__(
        self, directory: Path | None, *, namespace: str, simulation_id: str | None = None
    ) -> GridStore: ...


@dataclass(frozen=True)
class WorkloadParams:
    """How to build one workload instance."""

    backend: str
    size: int
    directory: Path | None = None  # memmap files go here (a scratch dir); None: system temp
    seed: int = 0
    radius: int = 6
    reads: int = 256  # single-window reads per unit
    agents: int = 1000  # agents for batched and end-to-end workloads
    flush_policy: str = "close"
    # Replaces the memmap store of every manager (backend "memmap" only), so tests can inject
    # a faulty backend; None builds the managers' own stores.
    store_factory: StoreFactory | None = None


def memmap_config(params: WorkloadParams, *, delete_on_close: bool = True) -> MemmapConfig:
    """The memmap block for ``params``: every structure in files for "memmap", none for "ram"."""
    use = params.backend == "memmap"
    return MemmapConfig(
        directory=None if params.directory is None else str(params.directory),
        use_for_resources=use,
        use_for_environmental=use,
        use_for_temporal=use,
        delete_on_close=delete_on_close,
        flush_policy=params.flush_policy,
    )


class Workload(abc.ABC):
    """One built workload: set up in ``__init__``, ``run()`` one unit of work, ``close()``."""

    def __init__(self, params: WorkloadParams) -> None:
        self.params = params
        self.rng = np.random.default_rng(params.seed)
        self.managers: list[GridManager] = []
        self.env: Environment | None = None
        self.injected_stores: list[GridStore] = []  # stores from params.store_factory; closed last

    @abc.abstractmethod
    def run(self) -> object:
        """One unit of the workload; identical work for both backends."""

    def files(self) -> list[Path]:
        found = [p for m in self.managers for p in m.files()]
        return found + (self.env.files() if self.env is not None else [])

    def close(self) -> None:
        for manager in self.managers:
            manager.close(delete_files=True)
        if self.env is not None:
            self.env.close()
        for store in self.injected_stores:
            store.close_all(delete_files=True)  # managers never close a store they were given

    def injected_store(self, namespace: str) -> GridStore | None:
        """The store ``params.store_factory`` makes for ``namespace`` (memmap backend only), else None."""
        factory = self.params.store_factory
        if factory is None or self.params.backend != "memmap":
            return None
        store = factory(self.params.directory, namespace=namespace)
        self.injected_stores.append(store)
        return store

    def __enter__(self) -> Workload:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- shared set-up helpers ------------------------------------------------------------
    def centres(self, count: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Random centres over the whole grid, edges included."""
        return self.rng.integers(0, size, count), self.rng.integers(0, size, count)

    def random_layer(self, size: int) -> np.ndarray:
        return self.rng.random((size, size), dtype=np.float32)


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
            params.size, params.size, memmap_config=memmap_config(params), seed=params.seed,
            store=self.injected_store("resources"),
        )
        self.managers.append(self.manager)
        self._prepare_reads()


class EnvironmentalWindows(_SingleWindowReads):
    grids = ENVIRONMENTAL_LAYERS

    def __init__(self, params: WorkloadParams) -> None:
        super().__init__(params)
        self.manager = EnvironmentalGridManager(
            params.size, params.size, memmap_config=memmap_config(params), store=self.injected_store("env")
        )
        self.managers.append(self.manager)
        for layer in self.grids:
            self.manager.set(layer, self.random_layer(params.size))
        self._prepare_reads()


def _dense_temporal(
    params: WorkloadParams, rng: np.random.Generator, store: GridStore | None = None
) -> TemporalGridManager:
    """A temporal manager whose three channels hold data in every tile."""
    manager = TemporalGridManager(params.size, params.size, memmap_config=memmap_config(params), store=store)
    tile = ObservationConfig().tile_size
    ticks = np.arange(0, params.size, tile)
    ty, tx = np.meshgrid(ticks, ticks, indexing="ij")
    for channel in TEMPORAL_CHANNELS:
        manager.deposit(channel, ty.ravel(), tx.ravel(), 1.0)  # marks every tile active
        # Values in [1, 2): many ticks of decay stay far from float32 denormals.
        manager.get(channel)[...] = 1.0 + rng.random((params.size, params.size), dtype=np.float32)
    return manager


class TemporalWindows(_SingleWindowReads):
    grids = TEMPORAL_CHANNELS

    def __init__(self, params: WorkloadParams) -> None:
        super().__init__(params)
        self.manager = _dense_temporal(params, self.rng, self.injected_store("temporal"))
        self.managers.append(self.manager)
        self._prepare_reads()


class BatchedWindows(Workload):
    """One ``get_windows`` gather of ``agents`` R-windows into a reused buffer."""

    def __init__(self, params: WorkloadParams) -> None:
        super().__init__(params)
        self.manager = EnvironmentalGridManager(
            params.size, params.size, memmap_config=memmap_config(params), store=self.injected_store("env")
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
        self.manager = _dense_temporal(params, self.rng, self.injected_store("temporal"))
        self.managers.append(self.manager)

    def run(self) -> object:
        self.manager.apply_decay()
        return None


def simulation_config(params: WorkloadParams) -> SimulationConfig:
    """The environment config of the end-to-end workloads for ``params``."""
    return SimulationConfig(
        width=params.size,
        height=params.size,
        seed=params.seed,
        memmap=memmap_config(params),
        observation=ObservationConfig(radius=params.radius),
    )


def build_environment(config: SimulationConfig, workload: Workload) -> Environment:
    """An Environment over ``config``; its managers compose the workload's injected stores, if any."""
    env_store, temporal_store, resource_store = (
        workload.injected_store(ns) for ns in ("env", "temporal", "resources")
    )
    if env_store is None:
        return Environment(config)
    size, memmap = (config.height, config.width), config.memmap
    made: list[GridManager] = []
    try:
        environmental = EnvironmentalGridManager(*size, memmap_config=memmap, store=env_store)
        made.append(environmental)
        temporal = TemporalGridManager(
            *size, memmap_config=memmap, observation_config=config.observation, store=temporal_store
        )
        made.append(temporal)
        resources = ResourceManager(
            *size, resource_config=config.resources, memmap_config=memmap, seed=config.seed, store=resource_store
        )
        made.append(resources)
        return Environment(config, environmental=environmental, temporal=temporal, resources=resources)
    except BaseException:
        for manager in made:
            manager.close(delete_files=True)
        for store in workload.injected_stores:
            store.close_all(delete_files=True)
        raise


def _environment(
    params: WorkloadParams, rng: np.random.Generator, workload: Workload
) -> tuple[Environment, WorkloadDriver]:
    env = build_environment(simulation_config(params), workload)
    try:
        for layer in ENVIRONMENTAL_LAYERS:
            env.set_environmental_layer(layer, rng.random((params.size, params.size), dtype=np.float32))
        driver = WorkloadDriver(env, params.agents, teams=2, seed=params.seed)
        driver.run(3)  # trails, signals, heat and consumption exist before timing starts
    except BaseException:
        env.close()
        for store in workload.injected_stores:
            store.close_all(delete_files=True)
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
    )
}


def build_workload(name: str, backend: str, size: int, **options: object) -> Workload:
    """Build workload ``name`` for ``backend`` ("ram" | "memmap") at ``size`` x ``size``."""
    if name not in WORKLOADS:
        raise HarnessUsageError(f"unknown workload {name!r}; known: {', '.join(WORKLOADS)}")
    if backend not in BACKENDS:
        raise HarnessUsageError(f"unknown backend {backend!r}; use one of {BACKENDS}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 16:
        raise HarnessUsageError(f"size must be an integer >= 16, got {size!r}")
    params = WorkloadParams(backend=backend, size=size, **options)  # type: ignore[arg-type]
    return WORKLOADS[name].factory(params)

