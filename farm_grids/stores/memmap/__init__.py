"""The memory-mapped file backend: MemmapStore with its files, manifest, locks, cleanup and page-cache helpers."""

from __future__ import annotations

from farm_grids.stores.memmap.cleanup import CleanupReport, cleanup_stale
from farm_grids.stores.memmap.opening import find_manifest
from farm_grids.stores.memmap.store import ACCESS_MODES, MemmapStore

__all__ = ["ACCESS_MODES", "CleanupReport", "MemmapStore", "cleanup_stale", "find_manifest"]
