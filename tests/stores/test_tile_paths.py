"""The tile layout's own fast paths (single windows, whole-tile block operations, contiguous decay tiles)
give bitwise the row layout's results, and a single window reads no tile outside the 2 x 2 it spans."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from farm_grids import MemmapStore, RamStore
from farm_grids.stores import GridStore
from farm_grids.stores.tiled import TileGrid, tile_buffer_cells, window_tiles
from farm_grids.windows import plan_windows

from farm_grids.testing import PROPERTY_SETTINGS, WINDOW_SETTINGS, fresh_name, random_grid

TILE = 8


@pytest.fixture(scope="module", params=["ram", "memmap"])
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GridStore, GridStore]]:
    """(rows RAM store, tiles store of the parameter's backend): the reference and the store under test.

    One pair serves every example of the module: each example makes grids under fresh names."""
    rows = RamStore()
    tiles: GridStore = RamStore(layout="tiles", tile_size=TILE) if request.param == "ram" else \
        MemmapStore(tmp_path_factory.mktemp("tiles"), layout="tiles", tile_size=TILE)
    yield rows, tiles
    rows.close_all()
    tiles.close_all(delete_files=True)


def _both(pair: tuple[GridStore, GridStore], values: np.ndarray) -> str:
    name = fresh_name()
    for store in pair:
        store.create(name, values.shape, dtype=values.dtype)
        store.write(name, values)
    return name


shapes = st.tuples(st.integers(1, 40), st.integers(1, 40))


@WINDOW_SETTINGS
@given(data=st.data(), shape=shapes, seed=st.integers(0, 2**32 - 1))
def test_single_windows_equal_the_row_layout(pair: tuple[GridStore, GridStore], data: st.DataObject,
                                             shape: tuple[int, int], seed: int) -> None:
    height, width = shape
    name = _both(pair, random_grid(shape, "float32", seed))
    y0 = data.draw(st.integers(-3, height + 2), label="y0")
    x0 = data.draw(st.integers(-3, width + 2), label="x0")
    y1 = data.draw(st.integers(y0, y0 + 2 * TILE + 3), label="y1")
    x1 = data.draw(st.integers(x0, x0 + 2 * TILE + 3), label="x1")
    rows, tiles = pair
    expected = rows.get_window(name, y0, y1, x0, x1)
    got = tiles.get_window(name, y0, y1, x0, x1)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    assert got.tobytes() == expected.tobytes()
    got[...] = 7  # a fresh array: writing it changes nothing stored
    assert tiles.get_window(name, y0, y1, x0, x1).tobytes() == expected.tobytes()


@given(y0=st.integers(0, 63), x0=st.integers(0, 63), height=st.integers(1, TILE), width=st.integers(1, TILE))
@example(y0=7, x0=7, height=2, width=2).via("a window on the corner of four tiles")
def test_a_window_no_larger_than_a_tile_reads_only_the_four_tiles_it_spans(y0: int, x0: int, height: int,
                                                                            width: int) -> None:
    """Every tile but the ones ``window_tiles`` names holds NaN: the copy must not see one."""
    shape = (y0 + height + 5, x0 + width + 3)
    values = np.arange(shape[0] * shape[1], dtype=np.float32).reshape(shape)
    grid = TileGrid(np.zeros(tile_buffer_cells(shape, TILE), dtype=np.float32), shape, TILE)
    grid.write_region(slice(0, shape[0]), slice(0, shape[1]), values)
    tile_rows, tile_cols = window_tiles(TILE, y0, y0 + height, x0, x0 + width)
    assert len(tile_rows) * len(tile_cols) <= 4
    spanned = np.zeros((grid.ny, grid.nx), dtype=bool)
    spanned[tile_rows.start : tile_rows.stop, tile_cols.start : tile_cols.stop] = True
    grid.tiles[~spanned] = np.nan
    window = grid.copy_window(y0, y0 + height, x0, x0 + width)
    np.testing.assert_array_equal(window, values[y0 : y0 + height, x0 : x0 + width])


regions = st.tuples(st.integers(0, 40), st.integers(0, 40), st.integers(0, 40), st.integers(0, 40))


@PROPERTY_SETTINGS
@given(shape=shapes, seed=st.integers(0, 2**32 - 1), dtype=st.sampled_from(["float32", "int16", "uint8"]),
       corners=regions, whole=st.booleans(), value=st.integers(0, 100))
@example(shape=(32, 24), seed=0, dtype="float32", corners=(0, 0, 0, 0), whole=True, value=3)
def test_fill_scale_and_write_of_regions_equal_the_row_layout(
    pair: tuple[GridStore, GridStore], shape: tuple[int, int], seed: int, dtype: str,
    corners: tuple[int, int, int, int], whole: bool, value: int,
) -> None:
    """Regions of whole tiles go through one view (the whole buffer for a whole-tile grid), the rest tile by tile."""
    height, width = shape
    name = _both(pair, random_grid(shape, dtype, seed))
    a, b, c, d = corners
    region = None if whole else (slice(min(a, b), max(a, b)), slice(min(c, d), max(c, d)))
    patch = random_grid(shape, dtype, seed + 1)
    for store in pair:
        store.scale(name, 0.5, region=region)
        store.fill(name, value, region=region if region is not None else (slice(0, height // 2), slice(0, width)))
        store.scale(name, 3, region=region)
        store.write(name, np.where(patch > 0, store.read(name), patch))
    rows, tiles = pair
    assert tiles.read(name).tobytes() == rows.read(name).tobytes()


masks = st.sampled_from(["dense", "sparse", "runs", "none"])


@PROPERTY_SETTINGS
@given(shape=shapes, seed=st.integers(0, 2**32 - 1), decay_tile=st.sampled_from([4, 6, TILE, 2 * TILE, 4 * TILE]),
       kind=masks, floor=st.sampled_from([0.0, 0.5, 2.0e3, 1.0e5]))
@example(shape=(32, 32), seed=1, decay_tile=TILE, kind="dense", floor=0.0).via("the whole buffer in one multiply")
@example(shape=(40, 40), seed=2, decay_tile=2 * TILE, kind="dense", floor=1.0e5).via("every tile fades")
def test_scale_tiles_equals_the_row_layout_for_any_decay_tile(
    pair: tuple[GridStore, GridStore], shape: tuple[int, int], seed: int, decay_tile: int, kind: str, floor: float,
) -> None:
    """Decay tiles equal to the storage tile, a multiple of it (expanded), or neither (region by region)."""
    name = _both(pair, random_grid(shape, "float32", seed))
    mask_shape = (-(-shape[0] // decay_tile), -(-shape[1] // decay_tile))
    rng = np.random.default_rng(seed)
    mask = {"dense": np.ones(mask_shape, dtype=bool), "none": np.zeros(mask_shape, dtype=bool),
            "sparse": rng.random(mask_shape) < 0.3,
            "runs": np.repeat(rng.random((mask_shape[0], 1)) < 0.6, mask_shape[1], axis=1)}[kind]
    rows, tiles = pair
    expected_faded = rows.scale_tiles(name, mask, decay_tile, 0.75, floor=floor)
    faded = tiles.scale_tiles(name, mask, decay_tile, 0.75, floor=floor)
    np.testing.assert_array_equal(faded, expected_faded)
    assert tiles.read(name).tobytes() == rows.read(name).tobytes()


def test_filling_a_ragged_grid_leaves_the_file_padding_zero(tmp_path: Path) -> None:
    """Whole-tile passes stop at the grid's edge: a fade's peak may read a tile's padding."""
    with MemmapStore(tmp_path, layout="tiles", tile_size=TILE) as store:
        store.create("g", (20, 27))
        store.fill("g", 5.0)
        store.scale("g", 2.0)
        store.flush()
        on_disk = np.fromfile(store.info("g").path, dtype=np.float32).reshape(3, 4, TILE, TILE)
    padded = np.zeros((3 * TILE, 4 * TILE), dtype=np.float32)
    padded[:20, :27] = 10.0
    np.testing.assert_array_equal(on_disk, padded.reshape(3, TILE, 4, TILE).transpose(0, 2, 1, 3))


def test_one_plan_gathered_over_many_grids_equals_the_row_layout(pair: tuple[GridStore, GridStore]) -> None:
    """The first layers of a pass compute the straddling windows' offsets, later ones reuse them."""
    shape = (45, 38)
    rng = np.random.default_rng(5)
    ys, xs = rng.integers(-3, 48, 3000), rng.integers(-3, 41, 3000)
    plan = plan_windows(shape, ys, xs, 4)
    rows, tiles = pair
    for layer in range(4):
        name = _both(pair, random_grid(shape, "float32", layer))
        expected = rows.get_planned_windows(name, plan)
        assert tiles.get_planned_windows(name, plan).tobytes() == expected.tobytes()
