"""Tests of the workloads and their source fingerprints."""
