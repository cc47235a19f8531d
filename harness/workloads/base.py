"""The workload base: parameters, the memmap block they imply, and the Workload life cycle."""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from farm_grids.config import MemmapConfig
from farm_grids.managers import GridManager
from farm_grids.stores import GridStore, build_store, register_backend, unregister_backend
from harness.errors import HarnessUsageError

if TYPE_CHECKING:  # the annotation only: store-level workloads then run without importing torch
    from farm_grids.environment import Environment

__all__ = ["BACKENDS", "SLOW_FADE_GAMMA", "ObjectStorage", "Workload", "WorkloadParams", "WorldOwner",
           "memmap_config", "object_storage_backend"]

# Near 1 on purpose: thousands of timed decays must never push values into float32
# denormals, whose arithmetic is ~100x slower and would time the FPU, not the engine.
SLOW_FADE_GAMMA = 0.9999

BACKENDS: tuple[str, ...] = ("ram", "memmap")
RESOURCES = "RESOURCES"


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
    # The registered file backend the "memmap" side runs on (farm_grids.stores.register_backend):
    # tests register a faulty one by name to show each criterion can FAIL.
    file_backend: str = "memmap"
    # Each built world its own run id, as two simulations sharing a directory would have: a
    # zarr group is named by namespace and run id, so two live worlds of one run stay apart.
    simulation_id: str = field(default_factory=lambda: f"w{secrets.token_hex(4)}")
    # How grids lie in memory and files (RAM and memmap alike), and how memmap reads.
    layout: str = "rows"
    tile_size: int = 32
    access: str = "auto"
    prefetch: bool = True


def memmap_config(params: WorkloadParams, *, delete_on_close: bool = True) -> MemmapConfig:
    """The memmap block for ``params``: every structure in files for "memmap", none for "ram"."""
    use = params.backend == "memmap"
    return MemmapConfig(
        backend=params.file_backend,
        directory=None if params.directory is None else str(params.directory),
        use_for_resources=use,
        use_for_environmental=use,
        use_for_temporal=use,
        delete_on_close=delete_on_close,
        flush_policy=params.flush_policy,
        layout=params.layout,
        tile_size=params.tile_size,
        access=params.access,
        prefetch=params.prefetch,
    )


@dataclass(frozen=True)
class ObjectStorage:
    """Where a workload's file-backend grids go instead of its scratch directory: a URL and how to reach it."""

    location: str  # e.g. "s3://bucket/prefix": each store makes its zarr group under it
    storage_options: Mapping[str, Any] = field(default_factory=dict, repr=False)  # endpoint, credentials: never shown


@contextlib.contextmanager
def object_storage_backend(base: str, storage: ObjectStorage) -> Iterator[str]:
    """A backend name, registered while the block runs, that builds ``base``'s stores at ``storage``.

    The workloads build their managers without storage options (their timed code stays as it
    is); this backend puts the location and the options in on their way to ``base``. A store
    that comes back with local files did not use the URL, and is refused.
    """
    name = f"{base}@object-storage-{secrets.token_hex(6)}"

    def factory(config: MemmapConfig, *, namespace: str, simulation_id: str | None,
                storage_options: object = None) -> GridStore:
        moved = dataclasses.replace(config, backend=base, directory=storage.location)
        store = build_store(base, moved, namespace=namespace, simulation_id=simulation_id,
                            storage_options=dict(storage.storage_options))
        if store.file_backed:
            store.close_all(delete_files=True)
            raise HarnessUsageError(f"backend {base!r} keeps its grids in local files: "
                                    "a storage directory applies to object-storage backends (zarr)")
        return store

    register_backend(name, factory)
    try:
        yield name
    finally:
        unregister_backend(name)


class WorldOwner:
    """Owns what building a world made (managers, an environment) and closes it all.

    Nothing here is timed: evidence collectors use it to build a world once; Workload adds the
    timed unit of work on top.
    """

    def __init__(self, params: WorkloadParams) -> None:
        self.params = params
        self.rng = np.random.default_rng(params.seed)
        self.managers: list[GridManager] = []
        self.env: Environment | None = None

    def files(self) -> list[Path]:
        found = [p for m in self.managers for p in m.files()]
        return found + (self.env.files() if self.env is not None else [])

    def close(self) -> None:
        for manager in self.managers:
            manager.close(delete_files=True)
        if self.env is not None:
            self.env.close()

    def __enter__(self) -> WorldOwner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Workload(WorldOwner, abc.ABC):
    """One built workload: set up in ``__init__``, ``run()`` one unit of work, ``close()``."""

    @abc.abstractmethod
    def run(self) -> object:
        """One unit of the workload; identical work for both backends."""

    # -- shared set-up helpers ------------------------------------------------------------
    def centres(self, count: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Random centres over the whole grid, edges included."""
        return self.rng.integers(0, size, count), self.rng.integers(0, size, count)

    def random_layer(self, size: int) -> np.ndarray:
        return self.rng.random((size, size), dtype=np.float32)
