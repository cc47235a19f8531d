"""Backends by name: ``register_backend``, the ``farm_grids.backends`` entry points, and ``build_store``."""

from __future__ import annotations

from importlib import metadata
from typing import Callable, Protocol

from farm_grids.errors import FarmGridsError, GridNotFoundError, InvalidGridSpecError
from farm_grids.stores.base import GridStore
from farm_grids.stores.memmap import MemmapStore, find_manifest
from farm_grids.stores.ram import RamStore, SparseRamStore
from farm_grids.stores.settings import StoreSettings
from farm_grids.stores.zarr import ZarrStore

__all__ = ["ENTRY_POINT_GROUP", "BackendFactory", "UnknownBackendError", "backend_factory", "backend_names", "build_store",
           "find_manifest", "register_backend", "unregister_backend"]

ENTRY_POINT_GROUP = "farm_grids.backends"


class UnknownBackendError(GridNotFoundError):
    """A backend name that no one registered."""


class BackendFactory(Protocol):
    """Builds a store from the storage settings (the config's storage block: directory, dtype, preallocate, ...)."""

    def __call__(self, config: StoreSettings, *, namespace: str, simulation_id: str | None) -> GridStore: ...


_registry: dict[str, BackendFactory] = {}
_entry_points_loaded = False


def register_backend(name: str, factory: BackendFactory | Callable[..., GridStore], *, replace: bool = False) -> None:
    """Make ``factory`` the backend called ``name`` (``memmap.backend: name`` then selects it)."""
    if not isinstance(name, str) or not name.strip() or name != name.strip():
        raise InvalidGridSpecError(f"a backend name must be a non-empty string without outer spaces, got {name!r}")
    if not callable(factory):
        raise InvalidGridSpecError(f"the factory of backend {name!r} must be callable, got {factory!r}")
    if name in _registry and not replace and _registry[name] is not factory:
        raise InvalidGridSpecError(f"backend {name!r} is already registered (pass replace=True to override)")
    _registry[name] = factory  # type: ignore[assignment]


def unregister_backend(name: str) -> None:
    """Forget a backend (tests register temporary ones)."""
    _registry.pop(name, None)


def _load_entry_points() -> None:
    """Third-party backends: ``[project.entry-points."farm_grids.backends"] name = "pkg.mod:factory"``."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if point.name in _registry:
            continue
        try:
            register_backend(point.name, point.load())
        except Exception as exc:  # a broken plug-in must not hide the built-in backends
            raise FarmGridsError(f"backend entry point {point.name!r} ({point.value}) failed to load: {exc}") from exc


def backend_names() -> list[str]:
    """Every registered backend name, built-ins and entry points."""
    _load_entry_points()
    return sorted(_registry)


def backend_factory(name: str) -> BackendFactory:
    if name not in _registry:
        _load_entry_points()
    try:
        return _registry[name]
    except (KeyError, TypeError):
        raise UnknownBackendError(f"unknown backend {name!r}; registered: {', '.join(backend_names())}") from None


def build_store(name: str, config: StoreSettings, *, namespace: str, simulation_id: str | None = None,
                storage_options: object = None) -> GridStore:
    """The store backend ``name`` builds for one manager (``storage_options`` only when given)."""
    extra = {} if storage_options is None else {"storage_options": storage_options}
    store = backend_factory(name)(config, namespace=namespace, simulation_id=simulation_id, **extra)
    if not isinstance(store, GridStore):
        raise InvalidGridSpecError(f"backend {name!r} built {type(store).__name__}, not a GridStore")
    return store


def _builtin(cls_path: str) -> BackendFactory:
    def factory(config: StoreSettings, *, namespace: str, simulation_id: str | None,
                storage_options: object = None) -> GridStore:
        # storage_options serve object-storage backends; local ones have nothing to use them for.
        cls = {"ram": RamStore, "sparse-ram": SparseRamStore, "memmap": MemmapStore}[cls_path]
        reads = {"access": config.access, "prefetch": config.prefetch}
        if cls is MemmapStore:
            if config.mode != "w+":  # resume in place: the run's own manifest, found by its names
                manifest = find_manifest(config.resolved_directory(), namespace, simulation_id)
                return MemmapStore.open(manifest, mode=config.mode, layout=config.layout, **reads)
            return cls(config.resolved_directory(), namespace=namespace, simulation_id=simulation_id,
                       default_dtype=config.dtype, preallocate=config.preallocate, layout=config.layout,
                       tile_size=config.tile_size, **reads)
        if cls is SparseRamStore:
            return cls(namespace=namespace, simulation_id=simulation_id, default_dtype=config.dtype)
        return cls(namespace=namespace, simulation_id=simulation_id, default_dtype=config.dtype,
                   layout=config.layout, tile_size=config.tile_size)

    factory.__qualname__ = f"builtin_{cls_path.replace('-', '_')}_backend"
    return factory


def _zarr_backend(config: StoreSettings, *, namespace: str, simulation_id: str | None,
                  storage_options: object = None) -> GridStore:
    """One zarr group per manager under ``memmap.directory`` (a local path or an s3:// URL)."""
    root = str(config.directory) if config.directory is not None else str(config.resolved_directory())
    group = f"{namespace}_{simulation_id}.zarr" if simulation_id else f"{namespace}.zarr"
    return ZarrStore(f"{root.rstrip('/')}/{group}", default_mode=config.mode, namespace=namespace, simulation_id=simulation_id,
                     default_dtype=config.dtype, storage_options=storage_options)  # type: ignore[arg-type]


for _name in ("ram", "sparse-ram", "memmap"):
    register_backend(_name, _builtin(_name))
register_backend("zarr", _zarr_backend)
