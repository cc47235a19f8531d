"""A batched gather on an evicted memmap grid reads exactly the pages its windows cover: checked with mincore of the test's own mapping, not with the engine's."""

from __future__ import annotations

import mmap
import resource
import sys

import numpy as np
import pytest

from farm_grids.stores.memmap import MemmapStore, mapped_file
from ...harness import pagecache as _pagecache
from ..support import evict_from_page_cache

PAGE = mmap.PAGESIZE
SHAPE = (96, 2048)  # float32: a row is two pages
RADIUS = 2


pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux mincore and posix_fadvise")


def cached(path, pages: int) -> np.ndarray:
    """Which pages of ``path`` are in the page cache: mincore of a fresh mapping (tests/harness/pagecache.py)."""
    mask = np.array(_pagecache.cached_page_mask(path), dtype=bool)
    assert mask.size == pages
    return mask


def major_faults() -> int:
    """Faults that had to wait for a read the fault itself started (a prefetched page faults in minor)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_majflt


def window_pages(ys: np.ndarray, xs: np.ndarray) -> set[int]:
    height, width = SHAPE
    return {
        (row * width + col) * 4 // PAGE
        for y, x in zip(ys.tolist(), xs.tolist())
        for row in range(max(y - RADIUS, 0), min(y + RADIUS + 1, height))
        for col in range(max(x - RADIUS, 0), min(x + RADIUS + 1, width))
    }


@pytest.fixture
def evicted_grid(tmp_path):
    store = MemmapStore(tmp_path)
    store.create("g", SHAPE)
    store.write("g", np.arange(SHAPE[0] * SHAPE[1], dtype=np.float32).reshape(SHAPE))
    store.flush()
    path, manifest = store.info("g").path, store.manifest_path
    store.close_all(delete_files=False)
    evict_from_page_cache(path)
    pages = -(-SHAPE[0] * SHAPE[1] * 4 // PAGE)
    if cached(path, pages).any():
        pytest.skip(f"{tmp_path} keeps pages cached after POSIX_FADV_DONTNEED (tmpfs?)")
    return manifest, path, pages


def centres(rng, count: int) -> tuple[np.ndarray, np.ndarray]:
    # Rows 0..40 only, edges included: the other rows must stay unread.
    return rng.integers(-1, 41, count), rng.integers(-1, SHAPE[1] + 1, count)


# (whole-file check up to this many pages, look before asking up to this span per run): the
# defaults, a file too large for the whole-file check, and one that never looks before asking.
LOOKING = [(mapped_file.WHOLE_CHECK_PAGES, mapped_file._LOOK_PAGES_PER_RUN), (0, 16), (0, 0)]


@pytest.mark.parametrize("whole, look", LOOKING, ids=["defaults", "no-whole-check", "never-look"])
def test_a_cold_gather_reads_exactly_the_pages_of_its_windows(evicted_grid, monkeypatch, whole, look):
    monkeypatch.setattr(mapped_file, "WHOLE_CHECK_PAGES", whole)
    monkeypatch.setattr(mapped_file, "_LOOK_PAGES_PER_RUN", look)
    manifest, path, pages = evicted_grid
    ys, xs = centres(np.random.default_rng(3), 300)  # large enough for the whole-file check
    store = MemmapStore.open(manifest, mode="r")
    try:
        before = major_faults()
        got = store.get_windows("g", ys, xs, RADIUS)
        faults = major_faults() - before
        expected = np.zeros(pages, dtype=bool)
        expected[sorted(window_pages(ys, xs))] = True
        np.testing.assert_array_equal(cached(path, pages), expected)
        assert faults <= expected.sum() // 10, (faults, expected.sum())  # asked for before the reads
        # A second gather over more windows reads just the new pages, and the values hold.
        more_ys, more_xs = np.concatenate([ys, [80, 90]]), np.concatenate([xs, [7, 2000]])
        again = store.get_windows("g", more_ys, more_xs, RADIUS)
        expected[sorted(window_pages(more_ys, more_xs))] = True
        np.testing.assert_array_equal(cached(path, pages), expected)
        np.testing.assert_array_equal(again[:300], got)
    finally:
        store.close_all()
    reference = np.pad(np.arange(SHAPE[0] * SHAPE[1], dtype=np.float32).reshape(SHAPE), RADIUS)
    for i in (0, 150, 301):
        y, x = int(more_ys[i]), int(more_xs[i])
        np.testing.assert_array_equal(again[i], reference[y:y + 2 * RADIUS + 1, x:x + 2 * RADIUS + 1])


def test_without_prefetch_each_page_is_read_by_its_fault_and_random_access_reads_no_more(evicted_grid):
    manifest, path, pages = evicted_grid
    ys, xs = centres(np.random.default_rng(4), 300)
    store = MemmapStore.open(manifest, mode="r", prefetch=False, access="random")
    try:
        before = major_faults()
        store.get_windows("g", ys, xs, RADIUS)
        faults = major_faults() - before
    finally:
        store.close_all()
    expected = np.zeros(pages, dtype=bool)
    expected[sorted(window_pages(ys, xs))] = True
    assert faults >= expected.sum() // 2, (faults, expected.sum())  # each page read by its own fault
    np.testing.assert_array_equal(cached(path, pages), expected)
