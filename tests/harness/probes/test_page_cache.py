"""Which pages a step brought into the page cache: mincore of our own mapping, before and after a real read."""

from __future__ import annotations

import mmap
import os

import numpy as np

from harness.probes import process_stats as procstats
from harness.probes.page_cache import cached_pages, pages_read, snapshot

PAGE = mmap.PAGESIZE


def test_the_pages_a_read_brings_in_are_the_difference_of_two_looks(tmp_path) -> None:
    path = tmp_path / "grid.bin"
    with open(path, "wb") as handle:
        handle.write(os.urandom(64 * PAGE))
        os.fsync(handle.fileno())  # dirty pages cannot be evicted
    assert procstats.evict_from_page_cache(path)
    before = snapshot([path])
    assert before[path] is not None and before[path].size < 64
    with open(path, "rb", buffering=0) as handle:
        os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_RANDOM)  # no readahead: exactly what is read
        handle.seek(10 * PAGE)
        handle.read(3 * PAGE)
    brought = pages_read(before, snapshot([path]))
    assert brought is not None and {10, 11, 12} <= set(brought[path].tolist())
    assert set(cached_pages(path).tolist()) >= {10, 11, 12}


def test_an_empty_file_has_no_pages_and_a_failed_look_is_none(tmp_path) -> None:
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    assert cached_pages(empty).size == 0
    assert pages_read({empty: None}, {empty: np.array([1])}) is None
