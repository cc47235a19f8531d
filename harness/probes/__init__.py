"""Probes: the measuring instruments (timing, stats, process stats, memory, cold reads, disk floor, footprint)."""
