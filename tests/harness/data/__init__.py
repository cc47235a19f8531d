"""Fixtures: a trimmed pytest-benchmark run and the script that trims one."""
