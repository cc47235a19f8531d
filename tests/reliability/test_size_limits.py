"""One set of size checks for every path: zarr create and reopen, tiles, rows, under ``ulimit -v``."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from farm_grids.config import MemmapConfig, SimulationConfig
from farm_grids.errors import ConfigError, GridFileMismatchError, InvalidGridSpecError, RequestTooLargeError
from farm_grids.stores import MemmapStore, RamStore
from farm_grids.stores.zarr.store import ZarrStore

from .helpers import python_env, tree_state

HUGE = 2**31 - 1


def _zarr_world(location: Path) -> None:
    """A group with one 64 x 64 float32 grid holding 2.0 everywhere, written to disk."""
    with ZarrStore(location, chunk=32) as store:
        store.create("A", (64, 64))
        store.write("A", np.full((64, 64), 2.0))


def _edit_metadata(location: Path, change: Callable[[dict], None]) -> None:
    path = location / "A" / "zarr.json"
    metadata = json.loads(path.read_text())
    change(metadata)
    path.write_text(json.dumps(metadata))


def _chunks(value: list[int]) -> Callable[[dict], None]:
    return lambda meta: meta["chunk_grid"]["configuration"].__setitem__("chunk_shape", value)


TAMPERING = {
    "dtype-int32": lambda meta: meta.__setitem__("data_type", "int32"),
    "dtype-float64": lambda meta: meta.__setitem__("data_type", "float64"),
    "dtype-bool": lambda meta: meta.__setitem__("data_type", "bool"),
    "dtype-unknown": lambda meta: meta.__setitem__("data_type", "<U4"),
    "shape-huge": lambda meta: meta.__setitem__("shape", [HUGE, HUGE]),
    "shape-zero": lambda meta: meta.__setitem__("shape", [0, 30]),
    "shape-1d": lambda meta: meta.__setitem__("shape", [64]),
    "shape-larger": lambda meta: meta.__setitem__("shape", [64, 96]),
    "chunks-zero": _chunks([0, 0]),
    "chunks-not-square": _chunks([32, 16]),
    "chunks-other": _chunks([16, 16]),
}


@pytest.mark.parametrize("mode", ["r+", "r"])
@pytest.mark.parametrize("change", TAMPERING.values(), ids=TAMPERING.keys())
def test_a_zarr_json_that_disagrees_with_the_store_record_is_refused(tmp_path: Path, change: Callable[[dict], None],
                                                                     mode: str) -> None:
    location = tmp_path / "world.zarr"
    _zarr_world(location)
    _edit_metadata(location, change)
    before = tree_state(location)
    with pytest.raises(GridFileMismatchError, match="'A'"):
        ZarrStore.open(location, mode=mode)
    assert tree_state(location) == before  # refused before anything was written


def test_an_untampered_zarr_store_reopens_with_its_values(tmp_path: Path) -> None:
    location = tmp_path / "world.zarr"
    _zarr_world(location)
    with ZarrStore.open(location, mode="r") as store:
        assert store.info("A").dtype == "float32"
        np.testing.assert_array_equal(store.read("A"), np.full((64, 64), 2.0, dtype=np.float32))


def test_an_array_no_store_recorded_is_refused(tmp_path: Path) -> None:
    import zarr

    location = tmp_path / "world.zarr"
    _zarr_world(location)
    zarr.open_group(location, mode="a").create_array("stranger", shape=(16, 16), chunks=(16, 16), dtype="int32")
    with pytest.raises(GridFileMismatchError, match="stranger"):
        ZarrStore.open(location, mode="r")


def test_a_corrupt_record_is_refused(tmp_path: Path) -> None:
    location = tmp_path / "world.zarr"
    _zarr_world(location)
    meta_path = location / "zarr.json"
    group = json.loads(meta_path.read_text())
    group["attributes"]["farm_grids"]["grids"]["A"]["chunk"] = 0
    meta_path.write_text(json.dumps(group))
    with pytest.raises(GridFileMismatchError, match="chunk"):
        ZarrStore.open(location, mode="r")


def test_a_huge_shape_in_both_record_and_zarr_json_is_refused_by_size(tmp_path: Path) -> None:
    location = tmp_path / "world.zarr"
    _zarr_world(location)
    _edit_metadata(location, lambda meta: meta.__setitem__("shape", [HUGE, HUGE]))
    meta_path = location / "zarr.json"
    group = json.loads(meta_path.read_text())
    group["attributes"]["farm_grids"]["grids"]["A"]["shape"] = [HUGE, HUGE]
    meta_path.write_text(json.dumps(group))
    with pytest.raises(RequestTooLargeError, match="address space"):
        ZarrStore.open(location, mode="r")


def test_deleting_a_zarr_grid_forgets_its_record(tmp_path: Path) -> None:
    location = tmp_path / "world.zarr"
    with ZarrStore(location, chunk=32) as store:
        store.create("A", (64, 64), fill=1.0)
        store.create("B", (64, 64), fill=1.0)
        store.close("B", delete_file=True)
    with ZarrStore.open(location) as store:
        assert store.names() == ["A"]
        store.create("B", (40, 40), dtype="int16")
    with ZarrStore.open(location, mode="r") as store:
        assert store.info("B").shape == (40, 40) and store.info("B").dtype == "int16"


def test_a_zarr_grid_beyond_the_address_space_is_refused_at_create(tmp_path: Path) -> None:
    location = tmp_path / "world.zarr"
    with ZarrStore(location) as store:
        with pytest.raises(RequestTooLargeError, match="address space"):
            store.create("A", (HUGE, HUGE))
        assert store.names() == []
    with ZarrStore.open(location, mode="r") as store:
        assert store.names() == []


@pytest.mark.parametrize("layout", ["rows", "tiles"])
def test_a_memmap_grid_beyond_the_address_space_is_refused(tmp_path: Path, layout: str) -> None:
    with MemmapStore(tmp_path / "grids", layout=layout) as store:
        with pytest.raises(RequestTooLargeError, match="address space"):
            store.create("A", (HUGE, HUGE))
        assert store.names() == []
    assert not [p for p in (tmp_path / "grids").iterdir() if p.suffix == ".dat"]


@pytest.mark.parametrize("layout", ["rows", "tiles"])
def test_a_ram_grid_beyond_the_address_space_is_refused(layout: str) -> None:
    with RamStore(layout=layout) as store, pytest.raises(RequestTooLargeError):
        store.create("A", (HUGE, HUGE))


# A child capped at 2 GiB of address space: a (2**31 - 1) x 4 float32 grid (32 GiB, sparse
# on disk) cannot be mapped there, and mmap would fail with ENOMEM.
ULIMIT_CHILD = r"""
import sys
from farm_grids.errors import RequestTooLargeError
from farm_grids.stores import MemmapStore
from farm_grids.stores.zarr.store import ZarrStore

kind, where = sys.argv[1], sys.argv[2]
store = ZarrStore(where) if kind == "zarr" else MemmapStore(where, layout=kind)
store.create("small", (256, 256), fill=1.0)  # a grid that fits is still made
try:
    store.create("A", (2**31 - 1, 4))
except RequestTooLargeError as exc:
    print("typed", type(exc).__name__, exc)
else:
    print("created")
store.close_all(delete_files=True)
"""


def _cap_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30))


@pytest.mark.parametrize("kind", ["rows", "tiles", "zarr"])
def test_under_ulimit_v_a_large_sparse_grid_is_a_typed_error(tmp_path: Path, kind: str) -> None:
    done = subprocess.run([sys.executable, "-c", ULIMIT_CHILD, kind, str(tmp_path / "grids")], env=python_env(),
                          preexec_fn=_cap_address_space, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("typed RequestTooLargeError"), done.stdout + done.stderr
    assert "ENOMEM" not in done.stderr and "Cannot allocate memory" not in done.stdout


# The layer under the size check: should the address space shrink between the check and the
# mmap (another thread mapping), the mapping itself still fails typed and leaves no file.
MAPPING_CHILD = r"""
import sys
from pathlib import Path
import zarr
from farm_grids.errors import RequestTooLargeError
from farm_grids.stores.zarr.chunk_cache import ChunkBudget, ChunkMirror
from farm_grids.stores.memmap.mapped_file import MappedFile

where = Path(sys.argv[1])
try:
    MappedFile.create(where / "grid.dat", (2**31 - 1) * 4 * 4)
except RequestTooLargeError as exc:
    print("file typed", not (where / "grid.dat").exists())
array = zarr.open_group(where / "g.zarr", mode="w").create_array("A", shape=(2**31 - 1, 4), chunks=(8, 8), dtype="f4")
try:
    ChunkMirror(array, ChunkBudget(2**20), writable=True)
except RequestTooLargeError as exc:
    print("mirror typed")
"""


def test_enomem_from_mmap_itself_is_a_typed_error(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", MAPPING_CHILD, str(tmp_path)], env=python_env(),
                          preexec_fn=_cap_address_space, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["file typed True", "mirror typed"], done.stdout + done.stderr


def test_a_tile_side_larger_than_the_world_is_a_config_error() -> None:
    # The rule lives with the world's size (a store's tiled layout may also hold grids smaller
    # than one tile, padded, as the store suite does): memmap.tile_size > both sides is refused.
    with pytest.raises(ConfigError, match="tile_size"):
        SimulationConfig(width=16, height=16, memmap=MemmapConfig(layout="tiles", tile_size=64))
    SimulationConfig(width=16, height=64, memmap=MemmapConfig(layout="tiles", tile_size=64))


def test_a_bad_tile_side_is_refused_by_every_tiled_store(tmp_path: Path) -> None:
    for tile in (0, 7, 12, 8192, True, 16.0):
        with pytest.raises(InvalidGridSpecError, match="tile_size"):
            RamStore(layout="tiles", tile_size=tile)  # type: ignore[arg-type]
        with pytest.raises(InvalidGridSpecError, match="tile_size"):
            MemmapStore(tmp_path / "grids", layout="tiles", tile_size=tile)  # type: ignore[arg-type]
