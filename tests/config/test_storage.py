"""The storage block: StorageConfig, its first name MemmapConfig, and its keys memmap: and storage:."""

from __future__ import annotations

import json
import pathlib

import pytest

from farm_grids import MemmapConfig as TopLevelMemmapConfig
from farm_grids.config import ConfigFieldError, MemmapConfig, SimulationConfig, StorageConfig
from farm_grids.errors import ConfigError


def test_memmap_config_is_the_same_class_as_storage_config() -> None:
    assert MemmapConfig is StorageConfig is TopLevelMemmapConfig
    assert MemmapConfig(backend="zarr") == StorageConfig(backend="zarr")
    assert isinstance(SimulationConfig().memmap, MemmapConfig)


def test_storage_key_is_another_name_for_the_memmap_key() -> None:
    by_memmap = SimulationConfig.from_dict({"memmap": {"backend": "zarr", "use_for_temporal": True}})
    by_storage = SimulationConfig.from_dict({"storage": {"backend": "zarr", "use_for_temporal": True}})
    assert by_memmap == by_storage
    assert by_storage.storage is by_storage.memmap and by_storage.storage.backend == "zarr"
    assert by_storage.to_dict()["memmap"]["backend"] == "zarr"  # saved under the key older readers know
    assert "storage" not in by_storage.to_dict()


def test_both_keys_at_once_are_a_config_error_naming_the_alias() -> None:
    with pytest.raises(ConfigError) as info:
        SimulationConfig.from_dict({"memmap": {"backend": "ram"}, "storage": {"backend": "zarr"}})
    assert isinstance(info.value, ConfigFieldError) and info.value.key == "storage"
    assert "another name for 'memmap'" in str(info.value)


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_storage_key_loads_from_files(tmp_path: pathlib.Path, suffix: str) -> None:
    path = tmp_path / f"sim{suffix}"
    path.write_text(json.dumps({"storage": {"directory": "/data/grids", "use_for_resources": True}}))
    config = SimulationConfig.load(path)
    assert config.memmap.directory == "/data/grids" and config.memmap.use_for_resources


def test_both_keys_in_a_file_name_the_file_and_the_key(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "sim.yaml"
    path.write_text("memmap:\n  dtype: float64\nstorage:\n  dtype: float16\n")
    with pytest.raises(ConfigFieldError) as info:
        SimulationConfig.load(path)
    assert info.value.source == str(path) and info.value.key == "storage"


def test_storage_dot_overrides_set_the_same_block() -> None:
    config = SimulationConfig().with_overrides(["storage.backend=ram", "storage.use_for_temporal=true",
                                                "memmap.dtype=float64"])
    assert config.memmap.backend == "ram" and config.memmap.use_for_temporal and config.memmap.dtype == "float64"
    with pytest.raises(ConfigError, match=r"^memmap\.mdoe: unknown key; did you mean 'memmap\.mode'"):
        SimulationConfig().with_overrides(["storage.mdoe=r"])


def test_an_unknown_backend_name_is_a_config_error() -> None:
    with pytest.raises(ConfigFieldError, match="backend: must be a registered backend"):
        StorageConfig(backend="no-such-backend")
