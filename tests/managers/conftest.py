"""Fixtures shared by the grid-manager suites: a store factory per backend, per-backend configs, snapshots."""

from __future__ import annotations

import pathlib
from collections.abc import Callable

import pytest

from farm_grids.config import MemmapConfig
from farm_grids.managers import GridManager
from .store_factories import StoreFactory

BACKENDS = ("ram", "memmap")
# Every backend the manager contract runs on: the built-ins and the chunked tile-dict test backend.
STORE_BACKENDS = ("ram", "sparse-ram", "memmap", "tile-dict")


def _config_for(backend: str, directory: pathlib.Path) -> MemmapConfig:
    """A MemmapConfig that sends every manager to ``backend`` (files under ``directory``)."""
    use = backend == "memmap"
    return MemmapConfig(
        directory=str(directory),
        use_for_environmental=use,
        use_for_temporal=use,
        use_for_resources=use,
    )


@pytest.fixture
def grid_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    return tmp_path / "grids"


@pytest.fixture(params=STORE_BACKENDS)
def store_factory(request: pytest.FixtureRequest, tile_dict_backend: str, grid_dir: pathlib.Path) -> StoreFactory:
    """A factory of the parametrised backend; its config switches every manager onto that backend."""
    config = MemmapConfig(
        directory=str(grid_dir),
        backend=request.param,
        use_for_environmental=True,
        use_for_temporal=True,
        use_for_resources=True,
    )
    return StoreFactory(request.param, config)


@pytest.fixture
def memmap_config(request: pytest.FixtureRequest, grid_dir: pathlib.Path) -> MemmapConfig:
    """The config for the requesting suite class's ``backend`` attribute."""
    backend = getattr(request.cls, "backend", None)
    assert backend in BACKENDS, "suite classes set backend = 'ram' or 'memmap'"
    return _config_for(backend, grid_dir)


def _snapshot(manager: GridManager) -> dict[str, bytes]:
    """Every grid of ``manager`` as bytes, to prove a failed call changed nothing."""
    return {name: manager.store.read(name).tobytes() for name in manager.names()}


@pytest.fixture(name="config_for", scope="session")
def config_for_fixture() -> Callable[[str, pathlib.Path], MemmapConfig]:
    """``config_for(backend, directory)`` for tests that build both backends themselves."""
    return _config_for


@pytest.fixture(name="snapshot", scope="session")
def snapshot_fixture() -> Callable[[GridManager], dict[str, bytes]]:
    """``snapshot(manager)``: the bytes of every grid, compared before and after a failed call."""
    return _snapshot
