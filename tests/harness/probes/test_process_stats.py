"""Process counters from /proc and getrusage, page-cache eviction, and self-removing scratch directories."""

from __future__ import annotations

import mmap
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from farm_grids.stores.memmap.mapped_file import is_memory_filesystem
from harness.probes import process_stats as ps
from tests.harness.pagecache import PAGE, cached_pages
from harness.probes.tempfiles import DEFAULT_PREFIX, SIGTERM_EXIT_CODE, scratch_dir, stale_scratch_dirs

linux_only = pytest.mark.skipif(not Path("/proc/self/smaps_rollup").exists(), reason="needs Linux /proc")
MIB = 1024**2


@linux_only
def test_smaps_rollup_and_status_give_sane_byte_counts() -> None:
    rollup = ps.read_smaps_rollup()
    status = ps.read_status()
    assert rollup is not None and status is not None
    assert rollup["Rss"] > MIB and 0 < rollup["Pss_Anon"] <= rollup["Rss"] and "Pss_File" in rollup
    assert set(status) >= {"VmRSS", "RssAnon", "RssFile"}
    assert status["VmRSS"] >= status["RssAnon"] > 0
    assert all(value % 1024 == 0 for value in status.values())  # kB were converted to bytes


@linux_only
def test_anonymous_memory_grows_when_a_big_array_is_touched() -> None:
    before = ps.read_status()["RssAnon"]
    block = np.ones(64 * MIB // 8)
    after = ps.read_status()["RssAnon"]
    assert after - before >= 48 * MIB
    del block


def test_missing_proc_files_give_none(tmp_path) -> None:
    missing = tmp_path / "no-proc" / "smaps_rollup"
    assert ps.read_smaps_rollup(missing) is None
    assert ps.read_status(missing) is None
    assert ps.mapping_rss_bytes(tmp_path / "grid.dat", smaps_path=missing) is None


def test_parsers_read_kb_lines_and_skip_noise(tmp_path) -> None:
    rollup = tmp_path / "rollup"
    rollup.write_text("55-77 ---p 00000000 00:00 0   [rollup]\nRss:  10 kB\nPss_Anon:   2 kB\nTHPeligible: 0\n")
    assert ps.read_smaps_rollup(rollup) == {"Rss": 10240, "Pss_Anon": 2048, "THPeligible": 0}
    status = tmp_path / "status"
    status.write_text("Name:\tpython\nVmRSS:\t  100 kB\nRssAnon:\t 40 kB\nThreads:\t1\n")
    assert ps.read_status(status) == {"VmRSS": 102400, "RssAnon": 40960}
    status.write_text("Name:\tpython\n")
    assert ps.read_status(status) is None


@linux_only
def test_mapping_rss_counts_only_touched_pages_of_that_file(tmp_path) -> None:
    path = tmp_path / "grid.dat"
    with open(path, "wb") as handle:
        handle.truncate(16 * MIB)
    assert ps.mapping_rss_bytes(path) == 0  # not mapped
    with open(path, "r+b") as handle, mmap.mmap(handle.fileno(), 0) as mapped:
        view = np.frombuffer(mapped, dtype=np.uint8)
        view[: 4 * MIB] = 1
        resident = ps.mapping_rss_bytes(path)
        assert 4 * MIB <= resident < 16 * MIB
        del view


@linux_only
def test_sparse_file_allocation_and_eviction(tmp_path) -> None:
    path = tmp_path / "sparse.dat"
    with open(path, "wb") as handle:
        handle.truncate(64 * MIB)
    assert ps.file_allocated_bytes(path) < MIB
    with open(path, "r+b") as handle:
        handle.write(b"\x01" * MIB)
    assert ps.file_allocated_bytes(path) >= MIB
    if is_memory_filesystem(tmp_path):
        pytest.skip("tmp_path is on tmpfs, where the page cache is the storage: nothing can be evicted")
    cached_before, pages = cached_pages(path)
    assert cached_before >= MIB // PAGE  # the written MiB is in the page cache ...
    assert ps.evict_from_page_cache(path) is True
    cached_after, _ = cached_pages(path)
    assert cached_after == 0, f"{cached_after} of {pages} pages still cached after eviction"  # ... and left it


def test_missing_files_give_none_or_false(tmp_path) -> None:
    assert ps.file_allocated_bytes(tmp_path / "missing") is None
    assert ps.evict_from_page_cache(tmp_path / "missing") is False


def test_rusage_io_counts_are_non_negative_ints() -> None:
    counts = ps.rusage_io()
    if sys.platform == "win32":
        assert counts is None
    else:
        inblock, majflt = counts
        assert isinstance(inblock, int) and isinstance(majflt, int) and inblock >= 0 and majflt >= 0


def test_scratch_dir_is_removed_on_normal_exit(tmp_path) -> None:
    with scratch_dir(parent=tmp_path) as path:
        (path / "grid.dat").write_bytes(b"x" * 10)
        assert path.is_dir() and path.name.startswith(f"{DEFAULT_PREFIX}{os.getpid()}-")
    assert not path.exists()


def test_scratch_dir_is_removed_after_keyboard_interrupt(tmp_path) -> None:
    with pytest.raises(KeyboardInterrupt):
        with scratch_dir(parent=tmp_path) as path:
            (path / "grid.dat").write_bytes(b"x")
            raise KeyboardInterrupt
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_scratch_dir_restores_the_previous_sigterm_handler(tmp_path) -> None:
    before = signal.getsignal(signal.SIGTERM)
    with scratch_dir(parent=tmp_path):
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before


def _child_in_a_scratch_dir(parent: Path) -> tuple[subprocess.Popen, Path]:
    """A Python child sleeping inside ``scratch_dir(parent=parent)``, and that directory."""
    script = textwrap.dedent(
        f"""
        import time
        from harness.probes.tempfiles import scratch_dir
        with scratch_dir(parent={str(parent)!r}) as path:
            (path / "grid.dat").write_bytes(b"x" * 1000)
            print(path, flush=True)
            time.sleep(60)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                             cwd=Path(__file__).resolve().parents[3])
    return child, Path(child.stdout.readline().strip())


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_scratch_dir_is_removed_when_the_process_gets_sigterm(tmp_path) -> None:
    child, created = _child_in_a_scratch_dir(tmp_path)
    try:
        assert created.is_dir()
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=30) == SIGTERM_EXIT_CODE
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()
    assert not created.exists()


def _scratch_dir_of_a_killed_process(parent: Path) -> Path:
    """A scratch dir whose owner got SIGKILL: no cleanup ran, the kernel dropped its lock."""
    child, created = _child_in_a_scratch_dir(parent)
    child.kill()
    child.wait(timeout=30)
    child.stdout.close()
    return created


@pytest.mark.skipif(sys.platform == "win32", reason="flock")
def test_stale_scratch_dirs_finds_only_dirs_whose_owner_is_gone(tmp_path) -> None:
    killed = _scratch_dir_of_a_killed_process(tmp_path)
    named_alike = tmp_path / f"{DEFAULT_PREFIX}{os.getpid()}-old"  # named like ours, but not marked by us
    unrelated = tmp_path / "other-123-x"
    for directory in (named_alike, unrelated):
        directory.mkdir()
    with scratch_dir(parent=tmp_path) as live:
        assert killed.is_dir()
        assert stale_scratch_dirs(tmp_path) == [killed]
        assert live.is_dir() and live not in stale_scratch_dirs(tmp_path)
    assert stale_scratch_dirs(tmp_path / "missing") == []


@linux_only
def test_mincore_counts_the_pages_of_a_mapping_that_are_cached(tmp_path) -> None:
    path = tmp_path / "grid.dat"
    with open(path, "wb") as handle:
        handle.truncate(4 * MIB)
    assert ps.mincore_bytes(path) == 0 and ps.file_mappings(path) == []  # not mapped: nothing to count
    with open(path, "r+b") as handle:
        mapping = mmap.mmap(handle.fileno(), 4 * MIB)
        mapping.madvise(mmap.MADV_RANDOM)  # no readahead: only the pages written are cached
        array = np.frombuffer(mapping, dtype=np.uint8)
        array[:: 16 * mmap.PAGESIZE] = 1
        touched = len(range(0, 4 * MIB, 16 * mmap.PAGESIZE))
        assert len(ps.file_mappings(path)) == 1
        assert ps.mincore_bytes(path) == touched * mmap.PAGESIZE
        assert ps.evict_mapped_file(path)  # drops our page-table entries, then the cache
        assert ps.mincore_bytes(path) == 0 and array[0] == 1  # the data is in the file, not lost
        del array
        mapping.close()


def test_without_proc_maps_mincore_is_unknown(tmp_path) -> None:
    missing = tmp_path / "no-maps"
    assert ps.file_mappings(tmp_path / "x", maps_path=missing) is None
    assert ps.mincore_bytes(tmp_path / "x", maps_path=missing) is None
    assert ps.evict_mapped_file(tmp_path / "x", maps_path=missing) is False
