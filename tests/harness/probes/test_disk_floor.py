"""The disk-floor readers read exactly the pages asked for (by byte count and by run), with fio and without."""

from __future__ import annotations

import mmap
import os
import shutil

import numpy as np
import pytest

from harness.probes.disk_floor import (
    PREAD_THREADS,
    _fio_seconds,
    page_runs,
    queue_depth,
    read_floor,
    read_floor_of_files,
    read_pages_direct,
    read_pages_fio,
)
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


@pytest.mark.parametrize("reader", ["fio", "pread threads"])
def test_the_floor_of_several_files_reads_every_page_once_per_depth_and_names_its_reader(tmp_path, reader) -> None:
    if reader == "fio" and shutil.which("fio") is None:
        pytest.skip("fio is not installed (apt-get install fio)")
    files = []
    for index in range(3):
        path = tmp_path / f"layer{index}.bin"
        path.write_bytes(os.urandom(32 * PAGE))
        files.append(path)
    pages = {files[0]: np.array([0, 1, 5]), files[1]: np.array([31]), files[2]: np.array([], dtype=np.int64)}
    qd1, device = read_floor_of_files(pages, reader=reader, iodepths=(1, None))
    assert qd1.reader == device.reader == reader and qd1.iodepth == 1 and device.iodepth == queue_depth(files[0])
    assert qd1.bytes == device.bytes == 4 * PAGE and qd1.seconds > 0
    assert read_floor_of_files({files[2]: np.array([], dtype=np.int64)}, reader=reader) is None


def test_without_fio_the_floor_falls_back_to_direct_threads_and_says_so(data_file, monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # no fio on the PATH, as on a runner without it
    floor = read_floor(data_file, np.array([3, 4, 9]))
    assert floor.reader == PREAD_THREADS and floor.bytes == 3 * PAGE and floor.iodepth == queue_depth(data_file)
    with pytest.raises(HarnessUsageError, match="unknown floor reader"):
        read_floor(data_file, np.array([1]), reader="dd")


def test_sub_millisecond_fio_runs_are_timed_by_their_latencies() -> None:
    """fio's runtime has whole milliseconds; under 10 ms the reads' latencies over the depth time them."""
    read = {"runtime": 0, "total_ios": 4, "slat_ns": {"mean": 1000.0, "N": 4, "max": 2000},
            "clat_ns": {"mean": 99000.0, "N": 4, "max": 120000}}
    assert _fio_seconds(read, 1) == pytest.approx(4e-4)  # one at a time: the sum
    assert _fio_seconds(read, 128) == pytest.approx(1.2e-4)  # all in flight: the longest
    assert _fio_seconds({**read, "runtime": 25}, 1) == pytest.approx(0.025)
