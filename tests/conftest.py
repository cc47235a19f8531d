"""Session fixtures for every test package: the chunked tile-dict test backend, registered by name."""

from __future__ import annotations

from typing import Iterator

import pytest

from farm_grids.stores import register_backend, unregister_backend
from stores.tile_dict_backend import BACKEND_NAME, tile_dict_factory


@pytest.fixture(scope="session")
def tile_dict_backend() -> Iterator[str]:
    """Registers the tile-dict backend for the session (``memmap.backend: tile-dict``); yields its name."""
    register_backend(BACKEND_NAME, tile_dict_factory)
    yield BACKEND_NAME
    unregister_backend(BACKEND_NAME)
