"""The shared store suite run against ZarrStore on a local path and on the S3 server, plus what only it promises."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest

from farm_grids import GridNotDenseError, GridStore, InvalidGridSpecError, ReadOnlyGridError
from farm_grids.config import MemmapConfig
from farm_grids.stores import build_store
from farm_grids.stores.zarr.store import ZarrStore
from hypothesis import HealthCheck, settings
from farm_grids.testing import StoreSuite
from farm_grids.testing import ops_properties
from farm_grids.testing import window_properties
from farm_grids.testing import IN_CI

from .s3server import CountingS3Server

_groups = itertools.count()


# The hypothesis properties run hundreds of examples of many small reads and writes; each
# example creates a zarr array. They run on an in-memory zarr group (fsspec's memory://,
# the same ZarrStore code with no disk or HTTP per request); the local and S3 groups run
# every other case, and over HTTP a property would cost minutes.
_PROPERTY = pytest.mark.skip(reason="hypothesis property: runs on the memory:// zarr group (same code)")
_PROPERTIES = ("test_get_window_equals_the_naive_zero_padded_reference",
               "test_get_windows_equals_stacked_get_window_and_the_padded_reference",
               "test_add_many_equals_a_python_loop", "test_get_cells_equals_indexing_a_zero_padded_read",
               "test_scale_tiles_equals_multiplying_the_marked_tiles")


def _skipped_property(self: object) -> None:
    """A property this group leaves to the memory:// one (a named function: pytest will not mark a lambda)."""


def _without_properties(cls: type) -> type:
    for name in _PROPERTIES:
        setattr(cls, name, _PROPERTY(_skipped_property))
    return cls


# Each property example creates a zarr array (~40 ms of zarr's own machinery even in memory):
# fewer examples than the CI profile's 2,000 keep this a minute, with the same edge cases.
_FEWER = settings(max_examples=150 if IN_CI else 60, deadline=None, derandomize=True,
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.differing_executors])


class TestMemoryZarrStore(StoreSuite):
    locals().update(window_properties(_FEWER, _FEWER))
    locals().update(ops_properties(_FEWER))
    @pytest.fixture
    def location(self) -> str:
        return f"memory://suite-{next(_groups)}.zarr"

    @pytest.fixture
    def store(self, location: str) -> Iterator[ZarrStore]:
        store = ZarrStore(location, chunk=8)
        yield store
        store.close_all(delete_files=True)

    @pytest.fixture
    def store_factory(self, location: str) -> Callable[..., ZarrStore]:
        return lambda **options: ZarrStore(location, chunk=8, **options)

    @pytest.fixture
    def reopen(self, location: str) -> Callable[[GridStore, str], GridStore]:
        return lambda store, mode: ZarrStore.open(location, mode, chunk=8)


@_without_properties
class TestLocalZarrStore(StoreSuite):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[ZarrStore]:
        # Small chunks so the suite's small grids still span several of them.
        store = ZarrStore(tmp_path / "grids.zarr", chunk=8)
        yield store
        store.close_all(delete_files=True)

    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> Callable[..., ZarrStore]:
        return lambda **options: ZarrStore(tmp_path / "grids.zarr", chunk=8, **options)


@_without_properties
class TestS3ZarrStore(StoreSuite):
    @pytest.fixture
    def location(self, bucket: str) -> str:
        return f"s3://{bucket}/suite-{next(_groups)}.zarr"

    @pytest.fixture
    def store(self, s3_server: CountingS3Server, location: str) -> Iterator[ZarrStore]:
        store = ZarrStore(location, chunk=8, storage_options=s3_server.storage_options())
        yield store
        store.close_all(delete_files=True)

    @pytest.fixture
    def store_factory(self, s3_server: CountingS3Server, location: str) -> Callable[..., ZarrStore]:
        return lambda **options: ZarrStore(location, chunk=8, storage_options=s3_server.storage_options(), **options)

    @pytest.fixture
    def reopen(self, s3_server: CountingS3Server, location: str) -> Callable[[GridStore, str], GridStore]:
        """An S3 group reopens from its URL with the server's options (it has no local manifest)."""
        return lambda store, mode: ZarrStore.open(location, mode, chunk=8, storage_options=s3_server.storage_options())


def test_the_registry_builds_it_by_name(tmp_path: Path) -> None:
    store = build_store("zarr", MemmapConfig(backend="zarr", directory=str(tmp_path)), namespace="env")
    with store:
        assert isinstance(store, ZarrStore) and store.layout == "chunks"
        assert Path(store.location) == tmp_path / "env.zarr"


def test_the_registry_puts_the_group_under_the_directory_as_named_or_the_temp_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A directory name ending in "X" keeps its "X"; no directory means the system temp dir.
    named = tmp_path / "worldX"
    with build_store("zarr", MemmapConfig(backend="zarr", directory=str(named)), namespace="env") as store:
        assert Path(store.location) == named / "env.zarr"
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "temp"))  # tempfile's own setting
    (tmp_path / "temp").mkdir()
    with build_store("zarr", MemmapConfig(backend="zarr"), namespace="env", simulation_id="run") as store:
        assert Path(store.location) == tmp_path / "temp" / "env_run.zarr"


def test_writes_stay_in_the_cache_until_flush_and_only_dirty_chunks_go_back(tmp_path: Path) -> None:
    import zarr

    with ZarrStore(tmp_path / "g.zarr", chunk=16) as store:
        store.create("a", (64, 64))
        store.add_many("a", [1, 40], [1, 40], [2.0, 3.0])
        on_disk = zarr.open_group(tmp_path / "g.zarr", mode="r")["a"]
        assert on_disk.nchunks_initialized == 0  # nothing written back yet
        store.flush("a")
        assert on_disk.nchunks_initialized == 2  # exactly the two chunks written to
        assert on_disk[1, 1] == 2.0 and on_disk[40, 40] == 3.0
        with pytest.raises(GridNotDenseError, match="read"):
            store.get("a")


def test_the_cache_stays_within_its_byte_budget_and_evicted_writes_are_kept(tmp_path: Path) -> None:
    chunk_bytes = 16 * 16 * 4
    with ZarrStore(tmp_path / "g.zarr", chunk=16, cache_bytes=4 * chunk_bytes) as store:
        store.create("a", (128, 128))
        values = np.arange(128 * 128, dtype=np.float32).reshape(128, 128)
        for y in range(0, 128, 16):  # row bands of 8 chunks each: more than the budget holds
            store.fill("a", 0.0, region=(slice(y, y + 16), slice(0, 128)))
            for x in range(0, 128, 16):
                store.add_many("a", [y], [x], values[y, x])
            assert store.budget.used_bytes <= 4 * chunk_bytes
        expected = np.zeros((128, 128), dtype=np.float32)
        expected[::16, ::16] = values[::16, ::16]
        np.testing.assert_array_equal(store.read("a"), expected)  # evicted dirty chunks were written back


def test_many_readers_share_one_group_read_only(tmp_path: Path) -> None:
    with ZarrStore(tmp_path / "g.zarr", chunk=8) as writer:
        writer.create("a", (20, 20), fill=2.0)
    readers = [ZarrStore.open(tmp_path / "g.zarr", mode="r") for _ in range(3)]
    try:
        for reader in readers:
            assert reader.get_window("a", 0, 20, 0, 20).sum() == 800.0
            with pytest.raises(ReadOnlyGridError):
                reader.fill("a", 1.0)
    finally:
        for reader in readers:
            reader.close_all()


def test_windows_of_a_fully_cached_grid_equal_those_read_through_the_chunks(tmp_path: Path) -> None:
    values = np.random.default_rng(5).random((40, 36), dtype=np.float32)
    with ZarrStore(tmp_path / "g.zarr", chunk=8) as writer:
        writer.create("a", (40, 36))
        writer.write("a", values)
    with ZarrStore.open(tmp_path / "g.zarr", mode="r") as cold, ZarrStore.open(tmp_path / "g.zarr", mode="r") as warm:
        warm.get_window("a", 0, 40, 0, 36)  # every chunk cached: the shortcut serves what follows
        assert warm._mirror(warm._entries["a"]).loaded.all() and not cold._mirror(cold._entries["a"]).loaded.any()
        for y0, y1, x0, x1 in [(0, 40, 0, 36), (3, 17, 5, 9), (39, 40, 35, 36), (7, 7, 2, 30), (-3, 5, 30, 40)]:
            expected = np.zeros((y1 - y0, x1 - x0), dtype=np.float32)
            ys, xs = slice(max(y0, 0), min(y1, 40)), slice(max(x0, 0), min(x1, 36))
            expected[ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0] = values[ys, xs]
            np.testing.assert_array_equal(warm.get_window("a", y0, y1, x0, x1), expected)
            np.testing.assert_array_equal(cold.get_window("a", y0, y1, x0, x1), expected)
        ys, xs = np.array([0, 20, 39]), np.array([35, 0, 17])
        np.testing.assert_array_equal(warm.get_windows("a", ys, xs, 3), cold.get_windows("a", ys, xs, 3))
        with pytest.raises(InvalidGridSpecError, match="y1 must be an integer"):
            warm.get_window("a", 0, 5.5, 0, 5)  # a float bound still takes the checked path's typed error


def test_close_all_deleting_files_removes_a_group_it_left_empty_and_nothing_else(tmp_path: Path) -> None:
    with ZarrStore(tmp_path / "g.zarr", chunk=8) as store:
        store.create("a", (16, 16), fill=1.0)
    reopened = ZarrStore.open(tmp_path / "g.zarr", mode="r+")
    reopened.close_all(delete_files=True)
    assert not (tmp_path / "g.zarr").exists()
    with ZarrStore(tmp_path / "h.zarr", chunk=8) as store:
        store.create("a", (16, 16), fill=1.0)
    (tmp_path / "h.zarr" / "notes.txt").write_text("someone else's")
    reopened = ZarrStore.open(tmp_path / "h.zarr", mode="r+")
    reopened.close_all(delete_files=True)
    assert sorted(p.name for p in (tmp_path / "h.zarr").iterdir()) == ["notes.txt", "zarr.json"]
