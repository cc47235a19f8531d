"""The per-window page rectangles and the summed-table check of known pages, against a naive loop over cells."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from farm_grids.stores.memmap import known_pages
from farm_grids.stores.memmap.known_pages import KnownPages, plan_corners, plan_page_rectangles, plan_tile_page_rectangles
from farm_grids.stores.memmap.pagecache import PAGE
from farm_grids.stores.tiled import TileGrid, tile_buffer_cells
from farm_grids.windows import plan_windows

# (height, width, itemsize): a row of several pages, of one page, and several rows per page.
ALIGNED = st.sampled_from([(40, 2048, 4), (33, 1024, 4), (64, 256, 4), (50, 128, 8), (37, 512, 1), (70, 64, 4)])


def window_pages(shape: tuple[int, int], itemsize: int, ys: np.ndarray, xs: np.ndarray, radius: int) -> list[set[int]]:
    """The pages each window's in-grid cells lie on, cell by cell."""
    height, width = shape
    pages = []
    for y, x in zip(ys.tolist(), xs.tolist()):
        pages.append({
            (row * width + col) * itemsize // PAGE
            for row in range(max(y - radius, 0), min(y + radius + 1, height))
            for col in range(max(x - radius, 0), min(x + radius + 1, width))
        })
    return pages


@st.composite
def worlds(draw):
    height, width, itemsize = draw(ALIGNED)
    radius = draw(st.integers(0, 6))
    count = draw(st.integers(1, 12))
    # Centres anywhere a window still touches the grid, edges included with high probability.
    ys = draw(st.lists(st.one_of(st.sampled_from([0, height - 1, -radius, height - 1 + radius]),
                                 st.integers(-radius, height - 1 + radius)), min_size=count, max_size=count))
    xs = draw(st.lists(st.one_of(st.sampled_from([0, width - 1, -radius, width - 1 + radius]),
                                 st.integers(-radius, width - 1 + radius)), min_size=count, max_size=count))
    return (height, width), itemsize, np.array(ys), np.array(xs), radius


@settings(max_examples=150, deadline=None)
@given(worlds())
def test_each_window_rectangle_holds_exactly_the_pages_of_its_cells(world):
    shape, itemsize, ys, xs, radius = world
    plan = plan_windows(shape, ys, xs, radius)
    grid, r0, r1, c0, c1 = plan_page_rectangles(plan, itemsize)
    # Interior windows first, in the plan's order, then the edge windows.
    order = np.arange(plan.count) if plan.interior is None else np.concatenate([plan.interior, plan.edge])
    expected = window_pages(shape, itemsize, ys[order], xs[order], radius)
    columns = grid[1]
    assert grid[0] * columns == -(-shape[0] * shape[1] * itemsize // PAGE)
    for i, pages in enumerate(expected):
        rectangle = {r * columns + c for r in range(r0[i], r1[i]) for c in range(c0[i], c1[i])}
        assert rectangle == pages, (i, ys[order][i], xs[order][i])


@settings(max_examples=150, deadline=None)
@given(worlds(), st.data())
def test_rectangles_are_covered_exactly_when_every_page_of_every_window_is_known(world, data):
    shape, itemsize, ys, xs, radius = world
    plan = plan_windows(shape, ys, xs, radius)
    pages = -(-shape[0] * shape[1] * itemsize // PAGE)
    needed = set().union(*window_pages(shape, itemsize, ys, xs, radius))
    known = KnownPages(pages)
    # Known: every needed page, then maybe one of them forgotten, plus some others.
    bits = np.array(data.draw(st.lists(st.booleans(), min_size=pages, max_size=pages)))
    bits[sorted(needed)] = True
    if data.draw(st.booleans()):
        bits[data.draw(st.sampled_from(sorted(needed)))] = False
    known.add(0, bits)
    expected = all(bits[p] for p in needed)
    assert known.cover_rectangles(*plan_page_rectangles(plan, itemsize)) is expected
    assert known.all is bool(bits.all())


def test_the_summed_table_follows_pages_learnt_later():
    plan = plan_windows((64, 1024), np.array([10, 40]), np.array([5, 900]), 3)
    rectangles = plan_page_rectangles(plan, 4)
    known = KnownPages(64)
    assert not known.cover_rectangles(*rectangles)
    known.add_runs([7], [14])  # rows 7..13: the first window
    assert not known.cover_rectangles(*rectangles)
    known.add(37, np.ones(7, dtype=bool))  # rows 37..43: the second
    assert known.cover_rectangles(*rectangles)


def test_a_row_that_is_not_a_whole_number_of_pages_has_no_rectangles():
    plan = plan_windows((20, 1000), np.array([5]), np.array([5]), 2)
    assert plan_page_rectangles(plan, 4) is None
    plan = plan_windows((20, 300), np.array([5]), np.array([5]), 2)
    assert plan_page_rectangles(plan, 4) is None


def test_a_table_too_large_to_build_answers_no_and_the_exact_path_decides(monkeypatch):
    plan = plan_windows((64, 1024), np.array([10]), np.array([5]), 3)
    known = KnownPages(64)
    known.add(0, np.arange(64) < 63)  # all but the last page known
    with monkeypatch.context() as patch:
        patch.setattr(known_pages, "MAX_TABLE_PAGES", 32)
        assert not known.cover_rectangles(*plan_page_rectangles(plan, 4))
    assert known.cover_rectangles(*plan_page_rectangles(plan, 4))


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([(32, 4, (100, 70)), (64, 4, (130, 200)), (32, 8, (64, 64)), (64, 1, (200, 90))]),
       st.integers(0, 6), st.data())
def test_each_window_tile_rectangle_holds_the_pages_of_the_whole_tiles_it_reads(case, radius, data):
    tile, itemsize, shape = case
    grid = TileGrid(np.zeros(tile_buffer_cells(shape, tile), dtype=np.uint8), shape, tile)
    count = data.draw(st.integers(1, 10))
    ys = np.array(data.draw(st.lists(st.integers(-radius, shape[0] - 1 + radius), min_size=count, max_size=count)))
    xs = np.array(data.draw(st.lists(st.integers(-radius, shape[1] - 1 + radius), min_size=count, max_size=count)))
    plan = plan_windows(shape, ys, xs, radius)
    (rows, columns), r0, r1, c0, c1 = plan_tile_page_rectangles(grid, itemsize, plan)
    pages_per_tile = tile * tile * itemsize // PAGE
    assert rows * columns == grid.ny * grid.nx * pages_per_tile
    order = np.arange(plan.count) if plan.interior is None else np.concatenate([plan.interior, plan.edge])
    for i, (y, x) in enumerate(zip(ys[order].tolist(), xs[order].tolist())):
        tiles = {(row // tile) * grid.nx + col // tile
                 for row in range(max(y - radius, 0), min(y + radius + 1, shape[0]))
                 for col in range(max(x - radius, 0), min(x + radius + 1, shape[1]))}
        pages = {t * pages_per_tile + k for t in tiles for k in range(pages_per_tile)}
        assert {r * columns + c for r in range(r0[i], r1[i]) for c in range(c0[i], c1[i])} == pages


def test_a_tile_that_is_not_a_whole_number_of_pages_has_no_rectangles():
    grid = TileGrid(np.zeros(tile_buffer_cells((64, 64), 16), dtype=np.float32), (64, 64), 16)
    assert plan_tile_page_rectangles(grid, 4, plan_windows((64, 64), np.array([5]), np.array([5]), 2)) is None


def test_a_plan_finds_its_corners_once_for_every_layer_and_apart_for_each_storage():
    plan = plan_windows((64, 1024), np.array([10, 40]), np.array([5, 900]), 3)
    rows = plan_corners(plan, 4)
    assert plan_corners(plan, 4) is rows  # the second layer of a pass reuses the first one's
    assert plan_corners(plan, 8) is not rows  # another item size reads other pages
    tiles = TileGrid(np.zeros(tile_buffer_cells((64, 1024), 32), dtype=np.float32), (64, 1024), 32)
    assert plan_corners(plan, 4, tiles) is not rows  # and a tile-major file other pages again
    known = KnownPages(64)
    known.add(7, np.ones(7, dtype=bool))
    known.add(37, np.ones(7, dtype=bool))
    assert known.cover_corners(rows) is known.cover_rectangles(*plan_page_rectangles(plan, 4)) is True
    fresh = plan_windows((64, 1024), np.array([10, 50]), np.array([5, 900]), 3)
    assert not known.cover_corners(plan_corners(fresh, 4))  # rows 47..53: not known
