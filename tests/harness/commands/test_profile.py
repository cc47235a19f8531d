"""profile: memray capture, flamegraph, and the high-water mark with MMAP records kept apart from heap."""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace

import pytest

from harness.commands import commandline
from harness import cli
from harness.probes import heap_profile


def test_split_high_water_mark_keeps_mmap_apart() -> None:
    records = [SimpleNamespace(allocator=14, size=1 << 30), SimpleNamespace(allocator=6, size=100),
               SimpleNamespace(allocator=2, size=28)]
    peak = heap_profile.split_high_water_mark(records, mmap_allocator=14)
    assert (peak.heap_bytes, peak.mmap_bytes, peak.heap_records, peak.mmap_records) == (128, 1 << 30, 2, 1)


def test_profile_writes_capture_flamegraph_and_separates_mmap(tmp_path, capsys) -> None:
    pytest.importorskip("memray")
    target = tmp_path / "profile.json"
    code = cli.main(["profile", "--workload", "resource_windows", "--size", "256", "--out", str(tmp_path),
                     "--json", str(target)])
    assert code == 0
    document = json.loads(target.read_text())
    assert (tmp_path / "memray-resource_windows-256.bin").exists()
    assert (tmp_path / "memray-resource_windows-256.html").stat().st_size > 0
    # The memmap resource grid is one MMAP record of the file's size; it is not heap.
    assert document["mmap_peak_bytes"] >= 256 * 256 * 4 and document["mmap_records"] >= 1
    assert "mmap at high-water mark" in capsys.readouterr().out


def test_profile_without_memray_is_one_line_exit_2(monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "memray", None)
    assert cli.main(["profile", "--workload", "observe_all"]) == commandline.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "memray" in err


def test_profile_takes_one_workload(capsys) -> None:
    pytest.importorskip("memray")
    assert cli.main(["profile", "--workload", "observe_all,write_path"]) == commandline.EXIT_USAGE
    assert "one workload" in capsys.readouterr().err
