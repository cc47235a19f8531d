"""Fault-injection suite for issue 11: crashes, hostile manifests, writers, kills, full disks, limits."""
