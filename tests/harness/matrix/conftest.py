"""Fixtures of the matrix tests: small specs and a real LocalCluster of two single-threaded worker processes."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from distributed import Client, LocalCluster

from harness.matrix.cluster import local_cluster

ROOT = Path(__file__).resolve().parents[3]
# A freed timing slot after a SIGKILL is what the fault test waits for: short, but far above
# the lease refresh (a fifth of it) even on a loaded two-core machine.
TEST_LEASE_TIMEOUT_S = 4.0
# Each cell a few tenths of a second: 8 cells, a kill and a rerun fit the file's budget.
SMALL_TIMING = {"blocks": 4, "min_block_s": 0.005, "warmup_blocks": 1, "time_budget_s": None}


def write_spec(path: Path, axes: dict[str, object], timing: dict[str, object] | None = None, **extra: object) -> Path:
    document = {"axes": axes, "timing": SMALL_TIMING if timing is None else timing, **extra}
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def eight_cells(path: Path) -> Path:
    """2 workloads x 2 sizes x 2 layouts of window reads at 64^2 and 96^2."""
    return write_spec(path, {"workload": ["resource_windows", "temporal_windows"], "size": [64, 96],
                             "layout": ["rows", "tiles"]})


def cli_env() -> dict[str, str]:
    """This process's environment, with this checkout first on the path (the workers import it too)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def matrix_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "harness", "matrix", *arguments]


@pytest.fixture(scope="module")
def two_workers() -> Iterator[tuple[LocalCluster, Client]]:
    """Two worker processes on this host, each offering one timing unit, with a short slot lease."""
    with local_cluster(2, lease_timeout_s=TEST_LEASE_TIMEOUT_S) as cluster, \
            Client(cluster, set_as_default=False) as client:
        client.wait_for_workers(2, timeout=60)
        yield cluster, client
