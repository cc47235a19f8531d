"""Fault-injection suite: crashes, hostile manifests, writers, kills, full disks, limits."""
