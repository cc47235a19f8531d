"""Tests of the zarr v3 backend (farm_grids.stores.zarr)."""
