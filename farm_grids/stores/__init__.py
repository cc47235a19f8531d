"""Grid stores: one interface (GridStore) with RAM and memory-mapped file backends."""

from farm_grids.stores.base import GridInfo, GridStore, StoreInfo, SUPPORTED_DTYPES
from farm_grids.stores.cleanup import CleanupReport, cleanup_stale
from farm_grids.stores.memmap import MemmapManager
from farm_grids.stores.ram import RamStore, SparseRamStore

__all__ = [
    "CleanupReport",
    "GridInfo",
    "GridStore",
    "MemmapManager",
    "RamStore",
    "SparseRamStore",
    "StoreInfo",
    "SUPPORTED_DTYPES",
    "cleanup_stale",
]
