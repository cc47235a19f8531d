"""EnvironmentalGridManager on both backends: lazy layers, set/fill/get, zeros for unset layers."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from farm_grids.config import MemmapConfig
from farm_grids.errors import GridNotFoundError, InvalidGridSpecError
from farm_grids.managers import ENVIRONMENTAL_LAYERS, EnvironmentalGridManager
from farm_grids.stores import MemmapStore

HEIGHT, WIDTH = 24, 31


class EnvironmentalSuite:
    backend: str

    @pytest.fixture
    def env(self, memmap_config: MemmapConfig):
        manager = EnvironmentalGridManager(HEIGHT, WIDTH, memmap_config=memmap_config, simulation_id="sim-1")
        yield manager
        manager.close(delete_files=True)

    def test_layers_are_created_lazily(self, env: EnvironmentalGridManager, grid_dir: pathlib.Path) -> None:
        assert env.layer_names == ENVIRONMENTAL_LAYERS
        assert env.names() == [] and env.files() == [] and env.total_size_bytes() == 0
        assert not any(env.is_set(name) for name in ENVIRONMENTAL_LAYERS)
        assert "OBSTACLES" not in env
        assert not list(grid_dir.glob("*.dat"))

    def test_unset_layer_get_names_the_layer(self, env: EnvironmentalGridManager) -> None:
        with pytest.raises(GridNotFoundError, match="'VISIBILITY' has not been set"):
            env.get("VISIBILITY")

    def test_unset_layer_windows_read_zero(self, env: EnvironmentalGridManager) -> None:
        window = env.get_window("TERRAIN_COST", -3, 4, 10, 15)
        assert window.shape == (7, 5) and window.dtype == np.float32 and not window.any()
        windows = env.get_windows("TERRAIN_COST", [0, 12, HEIGHT - 1], [0, 15, WIDTH - 1], 2)
        assert windows.shape == (3, 5, 5) and not windows.any()
        out = np.ones((3, 5, 5), dtype=np.float32)
        assert env.get_windows("TERRAIN_COST", [0, 12, HEIGHT - 1], [0, 15, WIDTH - 1], 2, out=out) is out
        assert not out.any()
        with pytest.raises(InvalidGridSpecError):
            env.get_windows("TERRAIN_COST", [0, 1], [0], 2)  # still validated

    def test_set_stores_a_copy_in_the_grid_dtype(self, env: EnvironmentalGridManager) -> None:
        data = np.arange(HEIGHT * WIDTH, dtype=np.float64).reshape(HEIGHT, WIDTH) / 7
        env.set("TERRAIN_COST", data)
        data[0, 0] = -1.0
        grid = env.get("TERRAIN_COST")
        assert grid.dtype == np.float32 and grid[0, 0] == 0.0
        np.testing.assert_array_equal(grid[1:], data[1:].astype(np.float32))
        assert env.is_set("TERRAIN_COST") and env.names() == ["TERRAIN_COST"]
        env.set("TERRAIN_COST", np.zeros((HEIGHT, WIDTH), dtype=bool))  # replace, any numeric dtype
        assert not env.get("TERRAIN_COST").any()

    def test_fill_creates_or_overwrites(self, env: EnvironmentalGridManager) -> None:
        env.fill("VISIBILITY", 1)
        assert (env.get("VISIBILITY") == 1.0).all()
        env.fill("VISIBILITY", 0.5)
        assert (env.get("VISIBILITY") == 0.5).all()
        env.fill("OBSTACLES", 0.0)
        assert env.is_set("OBSTACLES") and not env.get("OBSTACLES").any()
        assert env.names() == ["OBSTACLES", "VISIBILITY"]  # declaration order

    def test_files_appear_per_set_layer(self, env: EnvironmentalGridManager) -> None:
        env.fill("OBSTACLES", 1.0)
        files = env.files()
        if self.backend == "ram":
            assert files == []
        else:
            assert len(files) == 1 and "env_OBSTACLES_sim-1" in files[0].name

    def test_custom_layer_names(self, memmap_config: MemmapConfig) -> None:
        with EnvironmentalGridManager(4, 4, memmap_config=memmap_config, layer_names=["HEIGHTMAP"]) as env:
            env.fill("HEIGHTMAP", 2.0)
            assert env.names() == ["HEIGHTMAP"]
            with pytest.raises(GridNotFoundError):
                env.fill("OBSTACLES", 1.0)
            env.close(delete_files=True)

    @pytest.mark.parametrize(
        "layer_names, match",
        [(["A", "A"], "repeated: A"), (["A", ""], "non-empty"), ("OBSTACLES", "sequence")],
    )
    def test_bad_layer_names_are_refused(
        self, memmap_config: MemmapConfig, grid_dir: pathlib.Path, layer_names: object, match: str
    ) -> None:
        with pytest.raises(InvalidGridSpecError, match=match):
            EnvironmentalGridManager(4, 4, memmap_config=memmap_config, layer_names=layer_names)  # type: ignore[arg-type]
        assert not grid_dir.exists() or not any(grid_dir.iterdir())

    def test_a_failed_first_set_creates_no_layer(self, env: EnvironmentalGridManager, grid_dir: pathlib.Path) -> None:
        with pytest.raises(InvalidGridSpecError, match=r"needs shape \(24, 31\)"):
            env.set("OBSTACLES", np.ones((WIDTH, HEIGHT)))
        assert not env.is_set("OBSTACLES") and not list(grid_dir.glob("*.dat"))


class TestEnvironmentalRam(EnvironmentalSuite):
    backend = "ram"


class TestEnvironmentalMemmap(EnvironmentalSuite):
    backend = "memmap"

    def test_a_reopened_store_brings_its_layers_back(self, env: EnvironmentalGridManager) -> None:
        env.fill("OBSTACLES", 1.0)
        env.flush()
        manifest = env.manifest_path
        env.close()
        with EnvironmentalGridManager(HEIGHT, WIDTH, store=MemmapStore.open(manifest, mode="r+")) as again:
            assert again.names() == ["OBSTACLES"] and (again.get("OBSTACLES") == 1.0).all()
            assert again.files() and again.has_memmap
            again.close(delete_files=True)
            again.store.close_all(delete_files=True)

    def test_a_reopened_layer_of_another_shape_is_refused(self, env: EnvironmentalGridManager) -> None:
        env.fill("OBSTACLES", 1.0)
        env.flush()
        manifest = env.manifest_path
        env.close()
        store = MemmapStore.open(manifest, mode="r")
        with pytest.raises(InvalidGridSpecError, match="expected"):
            EnvironmentalGridManager(HEIGHT + 1, WIDTH, store=store)
        store.close_all()
