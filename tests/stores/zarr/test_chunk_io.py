"""Chunk I/O for zarr arrays: many chunks read together equal zarr's own per-chunk reads, within a bound on reads in flight."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from zarr.codecs import BytesCodec, GzipCodec, ZstdCodec
from zarr.storage import MemoryStore, WrapperStore

from farm_grids import ObjectStoreError
from farm_grids.stores.zarr.chunk_io import _read_file, read_chunks
from farm_grids.stores.zarr.store import ZarrStore

_names = itertools.count()
SHAPE, CHUNK = (100, 90), 16  # partial chunks on both edges


def _array(where: Any, dtype: str, *, codecs: dict[str, Any] | None = None, fill: float = 7) -> tuple[Any, np.ndarray]:
    """A written array with one chunk left unwritten (reads as ``fill``), and its values as zarr reads them."""
    options = codecs if codecs is not None else {"compressors": ZstdCodec(level=3, checksum=True)}
    array = where.create_array(f"a{next(_names)}", shape=SHAPE, chunks=(CHUNK, CHUNK), dtype=dtype,
                              fill_value=fill, **options)
    values = (np.random.default_rng(1).random(SHAPE) * 1000).astype(dtype)
    array[...] = values
    array[16:32, 32:48] = fill  # zarr writes no chunk that holds only the fill value
    return array, array[...]


def _tiles(chunk: int = CHUNK) -> np.ndarray:
    ny, nx = -(-SHAPE[0] // chunk), -(-SHAPE[1] // chunk)
    return np.full((ny, nx, chunk, chunk), -1, dtype=np.float64)


def _keys(chunk: int = CHUNK) -> list[tuple[int, int]]:
    return [(ty, tx) for ty in range(-(-SHAPE[0] // chunk)) for tx in range(-(-SHAPE[1] // chunk))]


def _per_chunk(array: Any, tiles: np.ndarray) -> np.ndarray:
    """The chunks read one zarr call each (ZarrStore's fetch before chunk I/O), into a copy of ``tiles``."""
    expected = tiles.copy()
    for ty, tx in _keys(tiles.shape[2]):
        block = array.get_block_selection((ty, tx))
        expected[ty, tx, : block.shape[0], : block.shape[1]] = block
    return expected


@pytest.fixture(params=["local", "memory"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A local group (read by threads from the files) or an in-memory one (read through zarr's store)."""
    return zarr.open_group(tmp_path / "g.zarr", mode="w") if request.param == "local" else zarr.open_group(
        MemoryStore(), mode="w")


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "uint8"])
@pytest.mark.parametrize("pipeline", [False, True], ids=["own-decoder", "zarr-pipeline"])
def test_chunks_read_together_equal_zarr_per_chunk_reads_bit_for_bit(where: Any, dtype: str, pipeline: bool) -> None:
    array, values = _array(where, dtype)
    tiles = _tiles()
    read_chunks(array, _keys(), tiles, concurrency=3, through_pipeline=pipeline)
    np.testing.assert_array_equal(tiles, _per_chunk(array, _tiles()))
    assert (tiles[1, 2, :, :] == 7).all()  # the unwritten chunk: the fill value
    assert (tiles[-1, -1, SHAPE[0] % CHUNK :, :] == -1).all()  # beyond the grid's edge: untouched


@pytest.mark.parametrize("codecs", [{"compressors": GzipCodec()}, {"compressors": None},
                                    {"serializer": BytesCodec(endian="big"), "compressors": ZstdCodec()}],
                         ids=["gzip", "uncompressed", "big-endian-zstd"])
def test_other_codec_chains_decode_the_same(where: Any, codecs: dict[str, Any]) -> None:
    array, _ = _array(where, "float32", codecs=codecs)
    tiles = _tiles()
    read_chunks(array, _keys(), tiles)
    np.testing.assert_array_equal(tiles, _per_chunk(array, _tiles()))


def test_sharded_arrays_read_whole_shards_through_zarrs_pipeline(tmp_path: Path) -> None:
    group = zarr.open_group(tmp_path / "g.zarr", mode="w")
    array = group.create_array("s", shape=SHAPE, chunks=(CHUNK, CHUNK), shards=(2 * CHUNK, 2 * CHUNK),
                               dtype="float32", fill_value=0)
    array[...] = np.random.default_rng(2).random(SHAPE)
    tiles = _tiles(2 * CHUNK)  # the stored objects are the shards
    read_chunks(array, _keys(2 * CHUNK), tiles, concurrency=2)
    np.testing.assert_array_equal(tiles, _per_chunk(array, _tiles(2 * CHUNK)))


class _InFlight(WrapperStore[MemoryStore]):
    """A real MemoryStore that records how many chunk reads are in flight at once."""

    def __init__(self, store: MemoryStore) -> None:
        super().__init__(store)
        self.now = self.peak = 0

    async def get(self, key: str, prototype: Any, byte_range: Any = None) -> Any:
        if "/c/" not in f"/{key}":  # metadata
            return await self._store.get(key, prototype, byte_range)
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            await asyncio.sleep(0.005)  # every read waits, so the next ones start while it is in flight
            return await self._store.get(key, prototype, byte_range)
        finally:
            self.now -= 1


@pytest.mark.parametrize("pipeline", [False, True], ids=["own-decoder", "zarr-pipeline"])
def test_reads_in_flight_never_exceed_the_concurrency_and_reach_it(pipeline: bool) -> None:
    store = _InFlight(MemoryStore())
    array, _ = _array(zarr.open_group(store, mode="w"), "float32")
    store.peak = 0
    tiles = _tiles()
    read_chunks(array, _keys(), tiles, concurrency=3, through_pipeline=pipeline)
    assert store.peak == 3
    np.testing.assert_array_equal(tiles, _per_chunk(array, _tiles()))


def test_a_concurrency_below_one_is_refused(tmp_path: Path) -> None:
    array, _ = _array(zarr.open_group(tmp_path / "g.zarr", mode="w"), "float32")
    with pytest.raises(ValueError, match="concurrency"):
        read_chunks(array, _keys(), _tiles(), concurrency=0)


def _store_with_grid(location: Any) -> tuple[ZarrStore, np.ndarray]:
    store = ZarrStore(location, chunk=CHUNK)
    values = np.random.default_rng(3).random(SHAPE).astype(np.float32)
    store.create("G", SHAPE)
    store.write("G", values)
    store.flush()
    store.close_all()
    return ZarrStore.open(location, "r", chunk=CHUNK), values


def test_a_batched_gather_equals_zero_padded_windows_of_the_grid(tmp_path: Path) -> None:
    reader, values = _store_with_grid(tmp_path / "w.zarr")
    ys = np.array([0, 5, 50, 99, 20, 17, 98, 63])
    xs = np.array([0, 89, 45, 0, 88, 31, 44, 64])
    with reader:
        got = reader.get_windows("G", ys, xs, 6)
    padded = np.pad(values, 6)
    expected = np.stack([padded[y : y + 13, x : x + 13] for y, x in zip(ys, xs)])
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("damage", ["corrupt", "directory"])
def test_a_damaged_chunk_file_is_a_typed_error_naming_the_grid(tmp_path: Path, damage: str) -> None:
    reader, _ = _store_with_grid(tmp_path / "w.zarr")
    chunk = tmp_path / "w.zarr" / "G" / "c" / "2" / "3"
    chunk.unlink()
    if damage == "corrupt":
        chunk.write_bytes(b"\x28\xb5\x2f\xfd" + bytes(range(64)))  # a zstd magic number, then garbage
    else:
        chunk.mkdir()
    with reader, pytest.raises(ObjectStoreError, match="'G'") as caught:
        reader.get_windows("G", np.array([40, 10]), np.array([55, 10]), 6)
    if damage == "corrupt":
        assert "corrupt" in str(caught.value)


def test_a_missing_chunk_file_reads_as_the_fill_value(tmp_path: Path) -> None:
    reader, values = _store_with_grid(tmp_path / "w.zarr")
    (tmp_path / "w.zarr" / "G" / "c" / "2" / "3").unlink()
    with reader:
        got = reader.get_windows("G", np.array([40, 10]), np.array([55, 10]), 6)
    assert (got[0] == 0).all()  # rows 34..46, columns 49..61: all inside chunk (2, 3), created with fill 0
    np.testing.assert_array_equal(got[1], np.pad(values, 6)[10:23, 10:23])


@pytest.mark.parametrize("expected", [1, 4096, 3 << 20, 8 << 20])
def test_a_chunk_file_larger_or_smaller_than_expected_is_read_whole(tmp_path: Path, expected: int) -> None:
    data = np.random.default_rng(4).bytes(3 << 20)
    (tmp_path / "chunk").write_bytes(data)
    assert _read_file(str(tmp_path / "chunk"), expected) == data
    assert _read_file(str(tmp_path / "absent"), expected) is None
