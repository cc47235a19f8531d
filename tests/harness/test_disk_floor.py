"""The disk-floor readers read exactly the pages asked for (by byte count and by run), with fio and without."""

from __future__ import annotations

import mmap
import os
import shutil

import numpy as np
import pytest

from harness.disk_floor import page_runs, queue_depth, read_pages_direct, read_pages_fio
from harness.errors import HarnessUsageError

PAGE = mmap.PAGESIZE


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "blocks.bin"
    path.write_bytes(os.urandom(64 * PAGE))  # real blocks, not holes
    return path


def test_pages_become_runs_of_consecutive_pages() -> None:
    first, end = page_runs(np.array([9, 3, 4, 5, 5, 12, 10]))
    assert first.tolist() == [3, 9, 12] and end.tolist() == [6, 11, 13]
    first, end = page_runs(np.array([], dtype=np.int64))
    assert first.size == end.size == 0


def test_the_thread_reader_reads_exactly_the_pages(data_file) -> None:
    seconds, done, _ = read_pages_direct(data_file, np.array([0, 1, 2, 7, 40, 63]), threads=4)
    assert done == 6 * PAGE and seconds > 0


@pytest.mark.skipif(shutil.which("fio") is None, reason="fio is not installed (apt-get install fio)")
def test_fio_replays_exactly_the_pages(data_file) -> None:
    seconds, done = read_pages_fio(data_file, np.array([0, 1, 2, 7, 40, 63, 41]), iodepth=8)
    assert done == 7 * PAGE and seconds >= 0


@pytest.mark.skipif(shutil.which("fio") is None, reason="fio is not installed (apt-get install fio)")
def test_fio_failing_is_a_usage_error_with_its_message(tmp_path) -> None:
    with pytest.raises(HarnessUsageError, match="fio failed"):
        read_pages_fio(tmp_path / "missing.bin", np.array([0]), iodepth=1)


def test_the_queue_depth_of_a_file_s_device_is_a_positive_count(data_file) -> None:
    depth = queue_depth(data_file)
    assert isinstance(depth, int) and depth >= 1
