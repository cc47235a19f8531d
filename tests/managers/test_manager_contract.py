"""The contract every grid manager keeps on every backend (ram, sparse-ram, memmap, tile-dict), by store factory."""

from __future__ import annotations

import abc
import pathlib

import numpy as np
import pytest

from farm_grids.config import MemmapConfig, ObservationConfig, ResourceConfig
from farm_grids.errors import GridNotFoundError, InvalidGridSpecError, StoreClosedError
from farm_grids.managers import (
    EnvironmentalGridManager,
    GridManager,
    ResourceManager,
    TemporalGridManager,
)
from farm_grids.windows import plan_windows

from .store_factories import StoreFactory

HEIGHT, WIDTH = 37, 53


class ManagerContract(abc.ABC):
    """Tests written once; subclasses pick the manager (``make``), ``store_factory`` the backend."""

    @abc.abstractmethod
    def make(self, memmap_config: MemmapConfig | None, **kwargs: object) -> GridManager:
        """A manager of HEIGHT x WIDTH whose grids all exist and hold non-zero data."""

    @pytest.fixture
    def manager(self, store_factory: StoreFactory):
        manager = self.make(store_factory.config)
        yield manager
        manager.close(delete_files=True)

    def test_reports_its_backend(self, manager: GridManager, store_factory: StoreFactory) -> None:
        assert manager.store.backend == store_factory.backend
        assert manager.has_memmap is manager.store.file_backed
        assert (manager.height, manager.width) == (HEIGHT, WIDTH)
        assert store_factory.backend in repr(manager)
        kind = type(manager).__name__
        assert repr(manager) == f"{kind}({HEIGHT}x{WIDTH}, {store_factory.backend}, {len(manager.names())} grids)"

    def test_files_are_the_grids_it_created(self, manager: GridManager, grid_dir: pathlib.Path) -> None:
        files = manager.files()
        if not manager.store.file_backed:
            assert files == [] and manager.manifest_path is None
            return
        assert len(files) == len(manager.names()) > 0
        assert all(path.exists() and path.resolve().is_relative_to(grid_dir.resolve()) for path in files)
        if manager.store.supports_reopen:
            assert manager.manifest_path is not None and manager.manifest_path.is_file()

    def test_names_contains_and_sizes(self, manager: GridManager) -> None:
        names = manager.names()
        assert names and all(name in manager for name in names)
        assert "NOT_A_GRID" not in manager and 3 not in manager
        itemsize = np.dtype("float32").itemsize
        assert manager.total_size_bytes() == len(names) * HEIGHT * WIDTH * itemsize

    def test_every_grid_holds_data_and_reads_as_its_windows(self, manager: GridManager) -> None:
        for name in manager.names():
            grid = manager.store.read(name)
            assert grid.shape == (HEIGHT, WIDTH) and grid.any()
            np.testing.assert_array_equal(manager.get_window(name, 0, HEIGHT, 0, WIDTH), grid)

    def test_window_is_a_fresh_zero_padded_copy(self, manager: GridManager) -> None:
        name = manager.names()[0]
        grid = manager.store.read(name)
        window = manager.get_window(name, -2, 5, WIDTH - 3, WIDTH + 4)
        assert window.shape == (7, 7) and window.dtype == np.float32
        np.testing.assert_array_equal(window[2:, :3], grid[0:5, WIDTH - 3 :])
        assert not window[:2].any() and not window[:, 3:].any()
        window[...] = 123.0  # a copy: the grid must not see this
        np.testing.assert_array_equal(manager.store.read(name), grid)
        halved = manager.get_window(name, 0, HEIGHT, 0, WIDTH, normalize_by=2.0)
        np.testing.assert_array_equal(halved, grid / np.float32(2.0))

    def test_batched_windows_match_single_windows(self, manager: GridManager) -> None:
        name = manager.names()[0]
        ys, xs, radius = np.array([0, 10, HEIGHT - 1, 18]), np.array([WIDTH - 1, 20, 0, 26]), 3
        windows = manager.get_windows(name, ys, xs, radius)
        assert windows.shape == (4, 7, 7)
        for window, y, x in zip(windows, ys, xs):
            expected = manager.get_window(name, y - radius, y + radius + 1, x - radius, x + radius + 1)
            np.testing.assert_array_equal(window, expected)
        out = np.full((4, 7, 7), -1.0, dtype=np.float32)
        assert manager.get_windows(name, ys, xs, radius, out=out) is out
        np.testing.assert_array_equal(out, windows)
        plan = plan_windows((HEIGHT, WIDTH), ys, xs, radius)
        np.testing.assert_array_equal(manager.get_planned_windows(name, plan), windows)

    def test_unknown_name_raises_a_key_error(self, manager: GridManager) -> None:
        with pytest.raises(GridNotFoundError, match="NOPE") as info:
            manager.get_window("NOPE", 0, 1, 0, 1)
        assert isinstance(info.value, KeyError)
        with pytest.raises(GridNotFoundError):
            manager.get_windows("NOPE", [0], [0], 1)

    def test_bad_window_arguments_raise_value_errors(self, manager: GridManager) -> None:
        name = manager.names()[0]
        with pytest.raises(InvalidGridSpecError):
            manager.get_windows(name, [0, 1], [0], 1)
        with pytest.raises(InvalidGridSpecError):
            manager.get_window(name, 0, 1, 0, 1, normalize_by=0.0)

    def test_close_is_idempotent_and_final(self, store_factory: StoreFactory) -> None:
        manager = self.make(store_factory.config)
        files = manager.files()
        name = manager.names()[0]
        manager.close()
        manager.close()
        assert manager.closed and manager.names() == []
        assert repr(manager).endswith(", closed)")
        assert all(path.exists() for path in files)  # kept: a later run may reopen them
        with pytest.raises(StoreClosedError):
            manager.get_window(name, 0, 1, 0, 1)

    def test_close_can_delete_the_files(self, store_factory: StoreFactory) -> None:
        manager = self.make(store_factory.config)
        files = manager.files()
        assert bool(files) is manager.store.file_backed
        manager.close(delete_files=True)
        assert not any(path.exists() for path in files)
        assert manager.files() == []

    def test_context_manager_closes(self, store_factory: StoreFactory) -> None:
        with self.make(store_factory.config) as manager:
            assert not manager.closed
        assert manager.closed and manager.store.closed

    def test_flushed_data_reopens_read_only(self, manager: GridManager) -> None:
        if not manager.store.supports_reopen:
            pytest.skip(f"the {manager.store.backend} backend keeps nothing to reopen (supports_reopen)")
        expected = {name: manager.store.read(name) for name in manager.names()}
        manager.flush()
        manifest = manager.manifest_path
        manager.close()
        with type(manager.store).open(manifest, mode="r") as reader:
            assert set(reader.names()) == set(expected) and not reader.writable
            for name, grid in expected.items():
                np.testing.assert_array_equal(reader.read(name), grid)

    def test_explicit_store_is_used_and_left_open(self, store_factory: StoreFactory) -> None:
        store = store_factory("shared")
        manager = self.make(store_factory.config, store=store)
        assert manager.store is store and manager.has_memmap is store.file_backed
        assert set(manager.names()) <= set(store.names()) and manager.names()
        manager.close()
        assert not store.closed and store.names() == []
        store.close_all(delete_files=True)


class EnvironmentalContract(ManagerContract):
    def make(self, memmap_config: MemmapConfig | None, **kwargs: object) -> GridManager:
        manager = EnvironmentalGridManager(HEIGHT, WIDTH, memmap_config=memmap_config, **kwargs)
        rng = np.random.default_rng(3)
        for name in manager.layer_names:
            manager.set(name, rng.random((HEIGHT, WIDTH)))
        return manager


class TemporalContract(ManagerContract):
    def make(self, memmap_config: MemmapConfig | None, **kwargs: object) -> GridManager:
        manager = TemporalGridManager(
            HEIGHT, WIDTH, memmap_config=memmap_config, observation_config=ObservationConfig(tile_size=8), **kwargs
        )
        rng = np.random.default_rng(4)
        for name in manager.channel_names:
            manager.deposit(name, rng.integers(0, HEIGHT, 200), rng.integers(0, WIDTH, 200), rng.random(200))
        manager.apply_decay()
        return manager


class ResourceContract(ManagerContract):
    def make(self, memmap_config: MemmapConfig | None, **kwargs: object) -> GridManager:
        config = ResourceConfig(count=300, max_amount=5.0, regen_rate=0.25)
        return ResourceManager(HEIGHT, WIDTH, memmap_config=memmap_config, resource_config=config, **kwargs)


class TestEnvironmentalContract(EnvironmentalContract):
    pass


class TestTemporalContract(TemporalContract):
    pass


class TestResourceContract(ResourceContract):
    pass
