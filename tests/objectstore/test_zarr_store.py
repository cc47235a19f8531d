"""The shared store suite run against ZarrStore on a local path and on the S3 server, plus what only it promises."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest

from farm_grids import GridNotDenseError, ReadOnlyGridError
from farm_grids.config import MemmapConfig
from farm_grids.stores import build_store
from farm_grids.stores.zarr_store import ZarrStore
from stores.store_suite import StoreSuite

from .s3server import CountingS3Server

_groups = itertools.count()


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


def test_the_registry_builds_it_by_name(tmp_path: Path) -> None:
    store = build_store("zarr", MemmapConfig(backend="zarr", directory=str(tmp_path)), namespace="env")
    with store:
        assert isinstance(store, ZarrStore) and store.layout == "chunks"
        assert Path(store.location) == tmp_path / "env.zarr"


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
