"""Grid stores: one public contract (GridStore over StoreBackend) with RAM, sparse RAM, memmap and zarr backends, by name."""

from __future__ import annotations

import warnings

from farm_grids.stores.base import GridStore
from farm_grids.stores.contract import BACKEND_METHODS, StoreBackend
from farm_grids.stores.dense import DenseArrayStore
from farm_grids.stores.entry import GridEntry, GridInfo, StoreInfo
from farm_grids.stores.memmap import CleanupReport, MemmapStore, cleanup_stale
from farm_grids.stores.ram import RamStore, SparseRamStore
from farm_grids.stores.registry import (
    UnknownBackendError,
    backend_names,
    build_store,
    register_backend,
    unregister_backend,
)
from farm_grids.stores.validation import SUPPORTED_DTYPES
from farm_grids.stores.zarr import ZarrStore

__all__ = [
    "BACKEND_METHODS",
    "CleanupReport",
    "DenseArrayStore",
    "GridEntry",
    "GridInfo",
    "GridStore",
    "MemmapStore",
    "RamStore",
    "SparseRamStore",
    "StoreBackend",
    "StoreInfo",
    "SUPPORTED_DTYPES",
    "UnknownBackendError",
    "ZarrStore",
    "backend_names",
    "build_store",
    "cleanup_stale",
    "register_backend",
    "unregister_backend",
]


def __getattr__(name: str) -> object:
    # MemmapManager was this backend's first name; in this project a "manager" is a grid manager.
    if name == "MemmapManager":
        warnings.warn("MemmapManager is deprecated; use MemmapStore", DeprecationWarning, stacklevel=2)
        return MemmapStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
