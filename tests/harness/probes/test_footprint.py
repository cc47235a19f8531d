"""The pages a piece of work needs, against a brute-force per-cell reference, and the recorder that collects the work."""

from __future__ import annotations

import numpy as np
import pytest

from farm_grids.stores import RamStore
from harness.errors import HarnessUsageError
from harness.probes.footprint import FileLayout
from harness.probes.store_recorder import StoreRecorder

PAGE = 64  # small pages, so a small grid spans many of them


def reference_offsets(height: int, width: int, itemsize: int, tile: int | None) -> np.ndarray:
    """Byte offset of every cell, by walking the file in order (tile after tile, row after row)."""
    offsets = np.full((height, width), -1, dtype=np.int64)
    position = 0
    if tile is None:
        for y in range(height):
            for x in range(width):
                offsets[y, x] = position
                position += itemsize
        return offsets
    for ty in range(-(-height // tile)):
        for tx in range(-(-width // tile)):
            for dy in range(tile):
                for dx in range(tile):
                    y, x = ty * tile + dy, tx * tile + dx
                    if y < height and x < width:
                        offsets[y, x] = position
                    position += itemsize  # padding cells beyond the edge still take their place
    return offsets


def reference_window_pages(offsets: np.ndarray, ys, xs, radius: int) -> set[int]:
    pages = set()
    height, width = offsets.shape
    for cy, cx in zip(ys, xs):
        for y in range(cy - radius, cy + radius + 1):
            for x in range(cx - radius, cx + radius + 1):
                if 0 <= y < height and 0 <= x < width:
                    pages.add(int(offsets[y, x]) // PAGE)
    return pages


LAYOUTS = [("rows", None), ("tiles", 8), ("tiles", 16)]


@pytest.mark.parametrize(("layout", "tile"), LAYOUTS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_window_pages_equal_the_per_cell_reference(layout: str, tile: int | None, seed: int) -> None:
    rng = np.random.default_rng(seed)
    height, width = int(rng.integers(20, 70)), int(rng.integers(20, 70))
    spec = FileLayout((height, width), 4, layout, tile or 0, page=PAGE)
    offsets = reference_offsets(height, width, 4, tile)
    radius = int(rng.integers(0, 5))
    ys = rng.integers(-3, height + 3, 40)  # edge windows and centres outside included
    xs = rng.integers(-3, width + 3, 40)
    got = spec.pages_of_windows(ys, xs, radius)
    assert got.tolist() == sorted(reference_window_pages(offsets, ys, xs, radius))
    assert spec.file_bytes == (offsets.max() + 4 if tile is None else
                               -(-height // tile) * -(-width // tile) * tile * tile * 4)


@pytest.mark.parametrize(("layout", "tile"), LAYOUTS)
def test_cells_regions_and_tiles_equal_the_reference(layout: str, tile: int | None) -> None:
    rng = np.random.default_rng(7)
    height, width = 45, 37
    spec = FileLayout((height, width), 4, layout, tile or 0, page=PAGE)
    offsets = reference_offsets(height, width, 4, tile)
    ys, xs = rng.integers(-2, height + 2, 60), rng.integers(-2, width + 2, 60)
    inside = (ys >= 0) & (ys < height) & (xs >= 0) & (xs < width)
    assert spec.pages_of_cells(ys, xs).tolist() == sorted({int(offsets[y, x]) // PAGE
                                                          for y, x in zip(ys[inside], xs[inside])})
    region = spec.pages_of_region(slice(5, 19), slice(30, 50))  # clipped at the right edge
    assert region.tolist() == sorted({int(o) // PAGE for o in offsets[5:19, 30:37].ravel()})
    mask = np.zeros((-(-height // 10), -(-width // 10)), dtype=bool)
    mask[0, 1] = mask[4, 3] = True  # the second one is an edge tile, cut by the grid
    expected = {int(o) // PAGE for o in offsets[0:10, 10:20].ravel()} | {int(o) // PAGE for o in offsets[40:45, 30:37].ravel()}
    assert spec.pages_of_tiles(mask, 10).tolist() == sorted(expected)


def test_bytes_of_cuts_the_last_page_at_the_end_of_the_file() -> None:
    spec = FileLayout((3, 5), 4, page=PAGE)  # 60 bytes: one page, short
    assert spec.bytes_of(spec.pages_of_cells([2], [4])) == 60
    big = FileLayout((64, 64), 4, page=PAGE)
    assert big.bytes_of(big.pages_of_windows([10], [10], 1)) == 3 * PAGE  # three rows of 16 cells a page


def test_tiles_of_windows_counts_storage_tiles() -> None:
    spec = FileLayout.named((64, 64), "tiles16")
    assert spec.tiles_of_windows([8], [8], 2) == 1
    assert spec.tiles_of_windows([16, 16], [16, 40], 2) == 4 + 2
    assert spec.tiles_of_windows([-50], [8], 2) == 0  # a window wholly outside covers nothing


@pytest.mark.parametrize("bad", [
    lambda: FileLayout((8, 8), 4, "diagonal"),
    lambda: FileLayout((8, 8), 4, "tiles", 12),
    lambda: FileLayout((8, 8), 4, "tiles", 0),
    lambda: FileLayout((8, 0), 4),
    lambda: FileLayout((8, 8), 3),
    lambda: FileLayout.named((8, 8), "tiles"),
    lambda: FileLayout.named((8, 8), "columns"),
    lambda: FileLayout((8, 8)).pages_of_windows([1, 2], [1], 1),
    lambda: FileLayout((8, 8)).pages_of_windows([1], [1], -1),
    lambda: FileLayout((8, 8)).tiles_of_windows([1], [1], 1),
])
def test_bad_layouts_and_inputs_are_typed_errors(bad) -> None:
    with pytest.raises(HarnessUsageError):
        bad()


def test_the_recorder_sees_the_coordinates_a_caller_asked_for() -> None:
    store = RamStore(namespace="rec")
    recorder = StoreRecorder()
    recorder.attach(store)
    recorder.attach(store)  # idempotent
    store.create("G", (64, 64))
    store.add_many("G", [3, 60], [5, 1], 1.0)
    store.get_windows("G", np.array([10, 62]), np.array([10, 30]), 2)
    store.get_window("G", 40, 42, 40, 45)
    mask = np.zeros((4, 4), dtype=bool)
    mask[3, 3] = True
    store.scale_tiles("G", mask, 16, 0.5)
    spec = FileLayout((64, 64), 4, page=PAGE)
    expected = spec.pages_of_cells([3, 60], [5, 1])
    expected = np.union1d(expected, spec.pages_of_windows([10, 62], [10, 30], 2))
    expected = np.union1d(expected, spec.pages_of_region(slice(40, 42), slice(40, 45)))
    expected = np.union1d(expected, spec.pages_of_tiles(mask, 16))
    assert recorder.needed_pages(store, "G", spec).tolist() == expected.tolist()
    touches = recorder.touches(store, "G")
    assert len(touches.windows) == 1 and touches.untracked == 0  # nested calls are not asks of their own
    store.get("G")
    assert recorder.touches(store, "G").untracked == 1
    store.close_all()
