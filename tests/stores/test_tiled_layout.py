"""The shared store suite on the tiles layout (tile-major buffers) for RAM and memmap, plus what tiles promise."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest

from farm_grids import ConfigError, InvalidGridSpecError, MemmapStore, RamStore, SimulationConfig
from farm_grids.errors import GridFileMismatchError, LayoutMismatchError

from farm_grids.testing import StoreSuite
from farm_grids.testing import temp_files_in
from .support import signed

TILE = 8  # small, so the suite's small grids span several tiles


class TestTiledRamStore(StoreSuite):
    @pytest.fixture
    def store(self) -> Iterator[RamStore]:
        store = RamStore(layout="tiles", tile_size=TILE)
        yield store
        store.close_all()

    @pytest.fixture
    def store_factory(self) -> Callable[..., RamStore]:
        return functools.partial(RamStore, layout="tiles", tile_size=TILE)


class TestTiledMemmapStore(StoreSuite):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[MemmapStore]:
        store = MemmapStore(tmp_path / "grids", layout="tiles", tile_size=TILE)
        yield store
        store.close_all(delete_files=True)
        assert temp_files_in(tmp_path) == []

    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> Callable[..., MemmapStore]:
        return functools.partial(MemmapStore, tmp_path / "grids", layout="tiles", tile_size=TILE)


def _tile_major(values: np.ndarray, tile: int) -> np.ndarray:
    """The tile-major bytes of ``values``, padded with zeros to whole tiles, by hand."""
    ny, nx = -(-values.shape[0] // tile), -(-values.shape[1] // tile)
    padded = np.zeros((ny * tile, nx * tile), dtype=values.dtype)
    padded[: values.shape[0], : values.shape[1]] = values
    return padded.reshape(ny, tile, nx, tile).transpose(0, 2, 1, 3).reshape(-1)


def test_the_file_is_tile_major_and_padded_with_zeros(tmp_path: Path) -> None:
    values = np.arange(20 * 27, dtype=np.float32).reshape(20, 27) + 1
    with MemmapStore(tmp_path, layout="tiles", tile_size=8) as store:
        store.create("g", values.shape)
        store.write("g", values)
        store.flush()
        on_disk = np.fromfile(store.info("g").path, dtype=np.float32)
        assert store.info("g").path.name.endswith("_20x27_float32_t8.dat")
    np.testing.assert_array_equal(on_disk, _tile_major(values, 8))


def test_reopening_in_another_layout_is_a_typed_error(tmp_path: Path) -> None:
    with MemmapStore(tmp_path, layout="tiles", tile_size=16) as store:
        store.create("g", (40, 40), fill=1.0)
        manifest = store.manifest_path
    with pytest.raises(LayoutMismatchError, match="'tiles'") as caught:
        MemmapStore.open(manifest, mode="r", layout="rows")
    assert repr(str(manifest)) in str(caught.value)
    with MemmapStore.open(manifest, mode="r", layout="tiles") as reopened:
        assert reopened.tile_size == 16 and reopened.read("g").sum() == 1600.0


def test_a_manifest_claiming_rows_for_a_tiled_file_is_refused(tmp_path: Path) -> None:
    with MemmapStore(tmp_path, layout="tiles", tile_size=8) as store:
        store.create("g", (16, 16), fill=1.0)
        manifest = store.manifest_path
    payload = json.loads(manifest.read_text())
    del payload["grids"]["g"]["layout"], payload["grids"]["g"]["tile"]
    manifest.write_text(json.dumps(signed(payload)))
    with pytest.raises(GridFileMismatchError, match="layout|rows|otherwise"):
        MemmapStore.open(manifest, mode="r")


@pytest.mark.parametrize("tile_size", [0, 7, 12, 5000, 2.0, True])
def test_a_bad_tile_side_is_a_typed_error(tile_size: object) -> None:
    with pytest.raises(InvalidGridSpecError, match="tile_size"):
        RamStore(layout="tiles", tile_size=tile_size)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="tile_size"):
        SimulationConfig().with_overrides({"memmap.layout": "tiles", "memmap.tile_size": tile_size})


@pytest.mark.parametrize(("key", "value"), [("layout", "diagonal"), ("access", "sometimes")])
def test_an_unknown_layout_or_access_is_a_typed_error(tmp_path: Path, key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=key):
        SimulationConfig().with_overrides({f"memmap.{key}": value})
    with pytest.raises(InvalidGridSpecError, match=value):
        MemmapStore(tmp_path, **{key: value})


def test_a_tile_larger_than_the_world_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="larger than"):
        SimulationConfig(width=20, height=30).with_overrides({"memmap.layout": "tiles", "memmap.tile_size": 64})


@pytest.mark.parametrize("backend", ["ram", "memmap"])
@pytest.mark.parametrize("radius", [0, 1, 2, 3, 4])
def test_windows_at_every_centre_equal_the_padded_reference(tmp_path: Path, backend: str, radius: int) -> None:
    """Every centre of a 20x27 grid in 8-tiles: windows inside one tile, across a tile edge in y only, in x
    only, in both, and at the grid's edge, each against a slice of the zero-padded array (deterministic)."""
    values = np.arange(20 * 27, dtype=np.float32).reshape(20, 27) + 1
    ys, xs = (axis.reshape(-1) for axis in np.mgrid[0:20, 0:27])
    side = 2 * radius + 1
    padded = np.pad(values, radius)
    expected = np.stack([padded[y : y + side, x : x + side] for y, x in zip(ys.tolist(), xs.tolist())])
    store = RamStore(layout="tiles", tile_size=TILE) if backend == "ram" else \
        MemmapStore(tmp_path, layout="tiles", tile_size=TILE)
    with store:
        store.create("g", values.shape)
        store.write("g", values)
        np.testing.assert_array_equal(store.get_windows("g", ys, xs, radius), expected)
