"""Cold-cache probe: evict, remap read-only, read; rows are informational (never FAIL, never gating)."""

from __future__ import annotations

import json

import pytest

from farm_grids.stores.memmap.mapped_file import is_memory_filesystem
from harness import cli
from harness.commands import commandline
from harness.probes.cold_windows import COLD_THRESHOLD, ColdRow, measure_cold, window_reader
from harness.errors import HarnessUsageError
from harness.probes.timing import PairedTiming
from harness.verdicts import Verdict
from harness.workloads.catalog import build_workload


@pytest.mark.parametrize("workload", ["resource_windows", "temporal_windows", "batched_windows"])
def test_cold_rows_measure_reads_after_eviction(tmp_path, workload) -> None:
    row = measure_cold(workload, 128, tmp_path, trials=2)
    assert row.timing.blocks == 2 and all(t > 0 for t in row.timing.candidate_block_s)
    assert row.row.cache == "cold" and row.row.gating is False
    # Informational: PASS within its line (the floor's when it was read, else cold/RAM), otherwise WARN, never FAIL.
    if row.floor_ratio is not None:
        within = row.floor_ratio <= row.floor_threshold
    else:
        within = row.timing.ci_high <= row.threshold
    assert row.verdict is (Verdict.PASS if within else Verdict.WARN)
    # The files really left the page cache: the cold reads went to the disk (the kernel's counters).
    if is_memory_filesystem(tmp_path):
        pytest.skip("tmp_path is on tmpfs, where the page cache is the storage: nothing can be evicted")
    assert row.evicted and row.inblock_bytes and row.inblock_bytes > 0, row.details
    assert row.eviction_effective
    record = row.record()
    assert record["verdict"] == row.verdict.value
    assert record["cache"] == "cold" and record["threshold"] == COLD_THRESHOLD
    assert {"inblock_bytes", "major_faults", "eviction_effective"} <= record.keys()
    assert list(tmp_path.iterdir()) == []


def _timing(ratio: float) -> PairedTiming:
    return PairedTiming("w", ratio, ratio * 0.9, ratio * 1.1, 0.95, 3, 1, (1.0,) * 3, (ratio,) * 3, 1.0, ratio,
                        True, 0)


def test_a_slow_cold_row_warns_but_never_fails() -> None:
    row = ColdRow("w", 64, _timing(40.0), COLD_THRESHOLD, inblock_bytes=4096, major_faults=2, evicted=True)
    assert row.row.verdict is Verdict.FAIL  # the raw interval lies above the limit ...
    assert row.verdict is Verdict.WARN  # ... but a cold row only informs
    assert row.eviction_effective and "4096 bytes read" in row.details


def test_no_bytes_read_says_eviction_not_effective() -> None:
    row = ColdRow("w", 64, _timing(1.0), COLD_THRESHOLD, inblock_bytes=0, major_faults=0, evicted=True)
    assert not row.eviction_effective and "eviction not effective" in row.details


def test_workloads_without_window_reads_are_refused(tmp_path) -> None:
    with build_workload("temporal_decay", "ram", 32, directory=tmp_path) as workload:
        with pytest.raises(HarnessUsageError, match="no window reads"):
            window_reader(workload)


def test_cli_coldcache_json_and_bad_workload(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setattr("harness.commands.coldcache.measure_cold_rows",
                        lambda workloads, sizes, directory, **kw: [measure_cold(workloads[0], 64, directory,
                                                                                trials=2)])
    target = tmp_path / "cold.json"
    code = cli.main(["coldcache", "--quick", "--workloads", "resource_windows", "--json", str(target)])
    assert code in (commandline.EXIT_PASS, commandline.EXIT_INCONCLUSIVE)
    assert json.loads(target.read_text())["ratios"][0]["cache"] == "cold"
    capsys.readouterr()
    assert cli.main(["coldcache", "--workloads", "observe_all"]) == commandline.EXIT_USAGE
    assert "unknown cold-cache workload observe_all" in capsys.readouterr().err


@pytest.mark.parametrize(("cold_s", "expected"), [(0.005, Verdict.PASS), (0.050, Verdict.WARN)])
def test_a_cold_row_is_judged_against_the_floor_of_its_pages_when_it_was_read(cold_s, expected) -> None:
    # RAM 1 ms, the floor 10 ms: 5 ms cold is 0.4x the floor beyond RAM (PASS), 50 ms is 4.9x (WARN).
    timing = PairedTiming("w", cold_s / 0.001, 1.0, 99.0, 0.95, 3, 1, (0.001,) * 3, (cold_s,) * 3, 0.001, cold_s,
                          True, 0)
    row = ColdRow("w", 64, timing, COLD_THRESHOLD, inblock_bytes=4096, major_faults=2, evicted=True,
                  floor_s=0.010, floor_reader="fio")
    assert row.verdict is expected and "the floor of its pages by fio (<= 4)" in row.details
    assert row.record()["floor_ratio"] == pytest.approx((cold_s - 0.001) / 0.010)
    unread = ColdRow("w", 64, timing, COLD_THRESHOLD, inblock_bytes=4096, major_faults=2, evicted=True)
    assert unread.floor_ratio is None and unread.verdict is Verdict.WARN  # falls back to cold/RAM <= 5
