"""Tests of the memory-mapped file backend (farm_grids.stores.memmap)."""
