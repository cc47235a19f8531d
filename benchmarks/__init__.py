"""The asv benchmark suite of farm-grids: thin classes over harness.workloads.catalog (see BENCHMARKS.md)."""
