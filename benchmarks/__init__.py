"""The asv benchmark suite of farm-grids: thin classes over harness.workloads (see BENCHMARKS.md)."""
