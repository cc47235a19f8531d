"""Workloads: every workload, defined once (asv, pytest-benchmark, validate and compare call them)."""
