"""MappedFile, one grid file: a non-regular file refused by name, disk blocks reserved under byte extents,
and WILLNEED asked for exactly the pages a cold gather needs (and not at all with ``prefetch=False``)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from farm_grids.errors import UnsafeManifestError
from farm_grids.stores import MemmapStore
from farm_grids.stores.memmap.mapped_file import BLOCK_BYTES, MappedFile
from farm_grids.stores.memmap.pagecache import PAGE, resident

from ..support import evict_from_page_cache


def allocated_bytes(path: Path) -> int:
    """Disk space the file holds (st_blocks counts reserved, unwritten blocks too)."""
    return os.stat(path).st_blocks * 512


def require_cold(address: int, pages: int) -> None:
    cached = resident(address, 0, pages)
    if cached is None or cached.any():
        pytest.skip("the page cache kept the file (or mincore is missing): no cold read to test here")


def test_a_directory_where_a_grid_file_should_be_is_refused_by_name(tmp_path: Path) -> None:
    where = tmp_path / "grid.dat"
    where.mkdir()  # opens read-only without O_NOFOLLOW complaining; only the fstat check sees it
    with pytest.raises(UnsafeManifestError, match="is not a regular file") as caught:
        MappedFile.open_existing(where, 64, writable=False)
    assert repr(str(where)) in str(caught.value)


@pytest.mark.parametrize(
    ("start", "end"),
    [(0, BLOCK_BYTES), (BLOCK_BYTES - 4, 2 * BLOCK_BYTES + 4), (10, 3 * BLOCK_BYTES), (3 * BLOCK_BYTES - 4, 3 * BLOCK_BYTES)],
    ids=["one-block-to-its-edge", "across-two-edges", "three-blocks", "last-cell"],
)
def test_reserve_gives_disk_space_to_the_blocks_under_an_extent(tmp_path: Path, start: int, end: int) -> None:
    path = tmp_path / "grid.dat"
    mapped = MappedFile.create(path, 3 * BLOCK_BYTES)  # sparse: no block yet
    try:
        if allocated_bytes(path) != 0:
            pytest.skip("this filesystem allocates on create")
        mapped.reserve(np.array([start]), np.array([end]))
        needed = ((end - 1) // BLOCK_BYTES - start // BLOCK_BYTES + 1) * BLOCK_BYTES
        # Every block under [start, end) has its space, and not a whole block more.
        assert needed <= allocated_bytes(path) < needed + BLOCK_BYTES
        assert os.stat(path).st_size == 3 * BLOCK_BYTES  # reserving never grows the file
    finally:
        mapped.release()


def test_prefetch_asks_for_the_uncached_pages_under_the_extents(tmp_path: Path) -> None:
    path = tmp_path / "grid.dat"
    path.write_bytes(np.arange(16 * PAGE // 4, dtype=np.float32).tobytes())  # 16 pages
    evict_from_page_cache(path)
    mapped = MappedFile.open_existing(path, 16 * PAGE, writable=False)
    try:
        require_cold(mapped.address, 16)
        # Page 1, pages 5-7, and page 7 again: four distinct pages.
        starts = np.array([PAGE + 8, 5 * PAGE, 7 * PAGE + 100])
        ends = np.array([PAGE + 16, 8 * PAGE, 7 * PAGE + 200])
        assert mapped.prefetch(starts, ends) == 4
        assert mapped.prefetched_pages == 4
    finally:
        mapped.release()


@pytest.mark.parametrize("prefetch", [True, False])
def test_a_cold_gather_asks_for_pages_only_with_prefetch_on(tmp_path: Path, prefetch: bool) -> None:
    values = np.arange(256 * 256, dtype=np.float32).reshape(256, 256)
    with MemmapStore(tmp_path) as store:
        store.create("g", values.shape)
        store.write("g", values)
        store.flush()
        manifest, path = store.manifest_path, store.info("g").path
    evict_from_page_cache(path)
    ys, xs, radius = [10, 100, 200], [10, 50, 250], 2
    padded = np.pad(values, radius)
    expected = np.stack([padded[y : y + 2 * radius + 1, x : x + 2 * radius + 1] for y, x in zip(ys, xs)])
    with MemmapStore.open(manifest, mode="r", prefetch=prefetch) as reader:
        mapped = reader._entries["g"].state  # the grid's MappedFile (a store test may look inside)
        require_cold(mapped.address, values.nbytes // PAGE)
        np.testing.assert_array_equal(reader.get_windows("g", ys, xs, radius), expected)
        assert (mapped.prefetched_pages > 0) is prefetch, mapped.prefetched_pages



def reserved_blocks(mapped: MappedFile) -> set[int]:
    return {int(b) for b in np.flatnonzero(mapped._reserved)}


@pytest.mark.parametrize("itemsize", [1, 2, 4, 8])
def test_reserve_items_reserves_the_blocks_under_the_items_and_no_other(tmp_path: Path, itemsize: int) -> None:
    rng = np.random.default_rng(itemsize)
    nbytes = 9 * BLOCK_BYTES
    path = tmp_path / "grid.dat"
    mapped = MappedFile.create(path, nbytes)
    try:
        expected: set[int] = set()
        for round_ in range(4):  # later rounds meet blocks already reserved
            offsets = rng.integers(0, nbytes // itemsize, size=3 + round_).astype(np.intp)
            offsets[0] = BLOCK_BYTES // itemsize - 1  # the last item of a block: no straddle
            mapped.reserve_items(offsets, itemsize)
            expected |= {int(o) * itemsize // BLOCK_BYTES for o in offsets}  # naive: each item's byte
            assert reserved_blocks(mapped) == expected
        if allocated_bytes(path) != 0:  # a filesystem that does not allocate on create
            assert allocated_bytes(path) >= len(expected) * BLOCK_BYTES
    finally:
        mapped.release()


def test_reserve_items_of_an_odd_size_takes_the_general_path(tmp_path: Path) -> None:
    mapped = MappedFile.create(tmp_path / "grid.dat", 3 * BLOCK_BYTES)
    try:
        # 12-byte items: item 5461 spans bytes [65532, 65544), across the first block edge.
        mapped.reserve_items(np.array([5461], dtype=np.intp), 12)
        assert reserved_blocks(mapped) == {0, 1}
    finally:
        mapped.release()


def test_reserve_items_over_every_block_leaves_the_file_fully_reserved(tmp_path: Path) -> None:
    mapped = MappedFile.create(tmp_path / "grid.dat", 3 * BLOCK_BYTES)
    try:
        mapped.reserve_items(np.array([0, BLOCK_BYTES // 4], dtype=np.intp), 4)  # blocks 0 and 1
        assert mapped.reserve_pending and not mapped.fully_reserved
        mapped.reserve_items(np.array([2 * BLOCK_BYTES // 4 + 7], dtype=np.intp), 4)  # block 2: the last
        assert mapped.fully_reserved and not mapped.reserve_pending
    finally:
        mapped.release()


def test_reserve_items_once_every_block_is_reserved_is_a_no_op(tmp_path: Path) -> None:
    mapped = MappedFile.create(tmp_path / "grid.dat", 2 * BLOCK_BYTES)
    try:
        mapped.reserve_all()
        assert not mapped.reserve_pending
        mapped.reserve_items(np.array([0, 20000], dtype=np.intp), 4)
        assert mapped.fully_reserved and reserved_blocks(mapped) == {0, 1}
    finally:
        mapped.release()
