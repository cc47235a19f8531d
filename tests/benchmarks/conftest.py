"""Fixtures of the pytest-benchmark suite."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def grid_dir(tmp_path: Path) -> Path:
    """Where a memmap workload puts its files (must be empty again after close)."""
    directory = tmp_path / "grids"
    directory.mkdir()
    return directory
