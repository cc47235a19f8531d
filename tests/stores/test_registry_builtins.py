"""The built-in backends a config names (``build_store``) take the config's dtype and the run's simulation id."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from farm_grids.config import MemmapConfig
from farm_grids.stores import build_store


@pytest.mark.parametrize("dtype", ["float16", "float64"])
@pytest.mark.parametrize("backend", ["ram", "sparse-ram", "memmap"])
def test_a_builtin_backend_takes_the_config_dtype_and_the_simulation_id(tmp_path: Path, backend: str,
                                                                         dtype: str) -> None:
    config = MemmapConfig(directory=str(tmp_path), backend=backend, dtype=dtype)
    store = build_store(backend, config, namespace="env", simulation_id="run-7")
    try:
        assert store.backend == backend
        assert store.default_dtype == np.dtype(dtype)
        assert store.simulation_id == "run-7"
        store.create("g", (3, 4), fill=1.5)
        assert store.read("g").dtype == np.dtype(dtype) and store.read("g").sum() == 18.0
        if store.file_backed:
            assert "run-7" in store.info("g").path.name
    finally:
        store.close_all(delete_files=True)


@pytest.mark.parametrize("backend", ["ram", "memmap"])
def test_a_builtin_backend_takes_the_config_layout_and_tile_side(tmp_path: Path, backend: str) -> None:
    config = MemmapConfig(directory=str(tmp_path), backend=backend, layout="tiles", tile_size=16)
    store = build_store(backend, config, namespace="env")
    try:
        assert (store.layout, store.tile_size) == ("tiles", 16)
    finally:
        store.close_all(delete_files=True)
