"""The shared store suite run against MemmapStore, plus file-backed specifics."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest

from farm_grids import MemmapStore

from farm_grids.testing import StoreSuite
from farm_grids.testing import temp_files_in


class TestMemmapStore(StoreSuite):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[MemmapStore]:
        store = MemmapStore(tmp_path / "grids")
        yield store
        store.close_all(delete_files=True)
        assert temp_files_in(tmp_path) == []

    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> Callable[..., MemmapStore]:
        return functools.partial(MemmapStore, tmp_path / "grids")


def test_memmap_grid_lives_in_a_file_of_the_right_size(tmp_path: Path) -> None:
    with MemmapStore(tmp_path) as store:
        arr = store.create("a", (5, 8), dtype="int32", fill=3)
        info = store.info("a")
        assert info.backend == "memmap" and info.file_backed
        assert info.path is not None and info.path.parent == tmp_path.resolve()
        assert info.path.stat().st_size == 5 * 8 * 4
        assert type(arr) is np.ndarray and not isinstance(store.get("a"), np.memmap)
        store.add_at("a", 4, 7, 2)
        store.flush("a")
        on_disk = np.fromfile(info.path, dtype=np.int32).reshape(5, 8)
        expected = np.full((5, 8), 3, dtype=np.int32)
        expected[4, 7] = 5
        np.testing.assert_array_equal(on_disk, expected)


def test_every_write_operation_changes_the_file_on_disk(tmp_path: Path) -> None:
    """Each store operation against a plain numpy reference, read back from the file (not the mapping)."""
    rng = np.random.default_rng(2)
    with MemmapStore(tmp_path) as store:
        store.create("g", (9, 13))
        path = store.info("g").path
        assert path is not None

        def on_disk() -> np.ndarray:
            store.flush("g")
            return np.fromfile(path, dtype=np.float32).reshape(9, 13)

        expected = np.zeros((9, 13), np.float32)
        assert not on_disk().any()
        values = (rng.integers(1, 64, (9, 13)) / 8).astype(np.float32)
        store.write("g", values)
        expected[...] = values
        np.testing.assert_array_equal(on_disk(), expected, err_msg="write")
        store.fill("g", 2.5, region=(slice(1, 4), slice(10, 20)))
        expected[1:4, 10:] = 2.5
        np.testing.assert_array_equal(on_disk(), expected, err_msg="fill")
        store.scale("g", 0.5, region=(slice(5, 9), slice(0, 3)))
        expected[5:, :3] *= np.float32(0.5)
        np.testing.assert_array_equal(on_disk(), expected, err_msg="scale")
        store.add_many("g", [0, 0, 8, 9], [0, 0, 12, 0], [1.0, 2.0, 4.0, 8.0])
        expected[0, 0] += 3.0
        expected[8, 12] += 4.0
        np.testing.assert_array_equal(on_disk(), expected, err_msg="add_many")
        mask = np.zeros((3, 4), dtype=bool)
        mask[2, 3] = True  # the 4x4 tile at rows 8.., cols 12..
        store.scale_tiles("g", mask, 4, 0.25)
        expected[8:, 12:] *= np.float32(0.25)
        np.testing.assert_array_equal(on_disk(), expected, err_msg="scale_tiles")
        np.testing.assert_array_equal(store.read("g"), expected)


def test_default_directory_is_the_system_temp_dir() -> None:
    import tempfile

    store = MemmapStore(simulation_id="default-dir-test")
    try:
        store.create("a", (2, 2))
        info = store.info("a")
        assert info.path is not None
        assert info.path.parent == Path(tempfile.gettempdir()).resolve()
    finally:
        store.close_all(delete_files=True)
    assert not info.path.exists() and not store.manifest_path.exists()


def test_decaying_a_tile_of_a_tile_major_file_reserves_the_blocks_under_it_only(tmp_path: Path) -> None:
    """scale_tiles reserves disk blocks before it writes (a full disk is then an error, not SIGBUS):
    exactly the 64 KiB blocks holding the decay tile's cells, so the sparse file stays sparse elsewhere."""
    from farm_grids.stores.memmap.mapped_file import BLOCK_BYTES

    with MemmapStore(tmp_path, layout="tiles", tile_size=8) as store:
        store.create("g", (512, 512))  # 1 MiB, sparse
        path = store.info("g").path
        mask = np.zeros((8, 8), dtype=bool)
        mask[2, 3] = True  # decay tile (2, 3) of side 64: rows 128..191, columns 192..255
        store.scale_tiles("g", mask, 64, 0.5)
        store.flush()
        allocated = os.stat(path).st_blocks * 512
    t, tiles_per_row = 8, 512 // 8
    blocks = {((y // t) * tiles_per_row * t * t + (x // t) * t * t + (y % t) * t + x % t) * 4 // BLOCK_BYTES
              for y in range(128, 192) for x in range(192, 256)}  # tile-major offsets, by hand
    needed = len(blocks) * BLOCK_BYTES
    assert needed <= allocated < needed + BLOCK_BYTES, (allocated, needed)


def _blocks_of_row_major_cells(cells: list[tuple[int, int]], width: int, itemsize: int = 4) -> set[int]:
    from farm_grids.stores.memmap.mapped_file import BLOCK_BYTES

    return {(y * width + x) * itemsize // BLOCK_BYTES for y, x in cells}


def _allocated(path: Path) -> int:
    return os.stat(path).st_blocks * 512  # reserved (fallocated) blocks count, written or not


def test_decaying_a_tile_of_a_row_major_file_reserves_the_blocks_under_it_only(tmp_path: Path) -> None:
    from farm_grids.stores.memmap.mapped_file import BLOCK_BYTES

    with MemmapStore(tmp_path) as store:
        # A row is 16 KiB, a block 4 rows: a 32-cell tile row dirties one 4 KiB page of each
        # row, so only the reservation can make the file hold whole blocks under the tiles.
        store.create("g", (128, 4096))
        path = store.info("g").path
        if _allocated(path):
            pytest.skip("this filesystem allocates on create")
        mask = np.zeros((4, 128), dtype=bool)
        mask[1, 3] = mask[3, 100] = True  # rows 32..63 and 96..127
        store.scale_tiles("g", mask, 32, 0.5)
        allocated = _allocated(path)
    cells = [(y, x) for ty, tx in ((1, 3), (3, 100)) for y in range(ty * 32, ty * 32 + 32) for x in range(tx * 32, tx * 32 + 32)]
    needed = len(_blocks_of_row_major_cells(cells, 4096)) * BLOCK_BYTES
    assert needed <= allocated < needed + BLOCK_BYTES, (allocated, needed)


@pytest.mark.parametrize("layout", ["rows", "tiles"])
def test_a_scattered_write_reserves_the_blocks_under_its_cells_before_it_writes(tmp_path: Path, layout: str) -> None:
    """add_many and add_at reserve (fallocate) the 64 KiB blocks under their cells: a full disk is
    then a DiskFullError before any cell changes, not SIGBUS at the store. Without the reservation
    the file would hold only the 4 KiB pages the writes dirtied."""
    from farm_grids.stores.memmap.mapped_file import BLOCK_BYTES

    with MemmapStore(tmp_path, layout=layout, tile_size=32) as store:
        store.create("g", (512, 512))
        path = store.info("g").path
        if _allocated(path):
            pytest.skip("this filesystem allocates on create")
        # Rows 0, 100 and 300: blocks 0, 3 and 9 in both layouts (a row of 32x32 tiles is 16 tiles
        # a block, and a tile row is 32 grid rows, as a block is 32 rows of a row-major file).
        store.add_many("g", [0, 100, 300], [5, 5, 5], [1.0, 2.0, 3.0])
        assert _allocated(path) >= 3 * BLOCK_BYTES
        store.add_at("g", 500, 7, 4.0)  # block 15
        assert _allocated(path) >= 4 * BLOCK_BYTES
        np.testing.assert_array_equal(store.get_cells("g", [0, 100, 300, 500], [5, 5, 5, 7]), [1, 2, 3, 4])


def test_decaying_a_tile_whose_rows_are_longer_than_a_block_reserves_every_block_of_them(tmp_path: Path) -> None:
    from farm_grids.stores.memmap.mapped_file import BLOCK_BYTES

    with MemmapStore(tmp_path) as store:
        # One float64 row of 32,768 cells is 256 KiB, four blocks: its end cells alone would name
        # only the first and the last.
        store.create("g", (2, 32768), dtype=np.float64)
        path = store.info("g").path
        if _allocated(path):
            pytest.skip("this filesystem allocates on create")
        store.scale_tiles("g", np.array([[True]]), 32768, 0.5)
        allocated = _allocated(path)
    assert 8 * BLOCK_BYTES <= allocated < 9 * BLOCK_BYTES, allocated


def test_a_large_gather_on_a_grid_whose_rows_are_not_whole_pages_reads_every_window(tmp_path: Path) -> None:
    # 300 float32 cells a row: no page-rectangle shortcut exists, so a gather of >= 256 windows over
    # a partly cached file takes the exact page plan instead (and must not trip over the missing one).
    rng = np.random.default_rng(5)
    values = np.zeros((300, 300), dtype=np.float32)
    ys, xs = rng.integers(0, 300, 5), rng.integers(0, 300, 5)
    values[ys, xs] = rng.random(5, dtype=np.float32) + 1.0
    with MemmapStore(tmp_path) as store:
        store.create("g", (300, 300))  # 88 pages, sparse
        store.add_many("g", ys, xs, values[ys, xs], accumulate=False)  # five pages written, the rest holes
        cy, cx = rng.integers(-3, 303, 300), rng.integers(-3, 303, 300)
        got = store.get_windows("g", cy, cx, 3)
    padded = np.pad(values, 6)  # a window centred at (y, x) is padded[y + 3 : y + 10, x + 3 : x + 10]
    expected = np.stack([padded[y + 3:y + 10, x + 3:x + 10] for y, x in zip(cy.tolist(), cx.tolist())])
    np.testing.assert_array_equal(got, expected)
