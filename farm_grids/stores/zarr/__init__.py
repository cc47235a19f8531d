"""The zarr v3 backend: ZarrStore, its chunk cache, its chunk I/O and its array records (needs the ``zarr`` extra to open a group)."""

from __future__ import annotations

from farm_grids.stores.zarr.store import ZarrStore

__all__ = ["ZarrStore"]
