"""Acceptance tests for the grid stores (RAM and memory-mapped backends)."""
