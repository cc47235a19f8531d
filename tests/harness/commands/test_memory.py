"""Memory probes in fresh subprocesses: records, the C6 fit, and a store that loads grids into RAM failing C6."""

from __future__ import annotations

import json

import pytest

from harness import cli

from harness.commands import commandline

from harness.acceptance.memory_scaling import memory_criterion
from harness.acceptance.criterion_rows import MIB
from harness.probes.memory import ProbeResult, memory_fit, run_probe, run_probes
from harness.verdicts import Verdict


def test_probe_reports_memory_of_a_sparse_memmap_world(tmp_path) -> None:
    result = run_probe(256, tmp_path, agents=50, ticks=1)
    assert result.error is None, result.error
    record = result.record
    assert record["grid_bytes"] == 7 * 256 * 256 * 4 and record["file_bytes"] == record["grid_bytes"]
    assert record["proc_available"] and result.anon_bytes > 0
    assert record["file_blocks_bytes"] < record["file_bytes"]  # sparse: most pages never written
    assert list(tmp_path.iterdir()) == []  # the child deleted its files


def test_a_store_that_loads_whole_grids_into_ram_fails_memory_scaling(tmp_path) -> None:
    results = run_probes((256, 1024), tmp_path, agents=50, ticks=1,
                         file_backend="tests.harness.faulty_stores:LoadsWholeGrid")
    assert all(r.error is None for r in results), [r.error for r in results]
    grid_growth = results[1].record["grid_bytes"] - results[0].record["grid_bytes"]
    anon_growth = results[1].anon_bytes - results[0].anon_bytes
    assert anon_growth >= 0.8 * grid_growth  # every grid byte became an anonymous byte
    row = memory_criterion(results)
    assert row.verdict is Verdict.FAIL and row.value > 500  # MiB of anon per GiB of grid


def test_a_failed_probe_is_reported_and_never_passes(tmp_path) -> None:
    results = run_probes((64, 128), tmp_path, file_backend="no_such_module:Store")
    assert all(r.record is None and "exited" in r.error for r in results)
    row = memory_criterion(results)
    assert row.verdict is Verdict.WARN and "probe failed at 64" in row.details


def test_without_proc_memory_scaling_is_warn_cannot_measure() -> None:
    records = [ProbeResult(s, {"grid_bytes": s * s * 28, "pss_anon_bytes": None, "rss_anon_bytes": None,
                               "proc_available": False}) for s in (64, 128)]
    row = memory_criterion(records)
    assert row.verdict is Verdict.WARN and "cannot measure" in row.details
    assert memory_fit(records) is None


def test_flat_anon_memory_passes_and_fits_a_zero_slope() -> None:
    # Flat up to noise, over the full run's five sizes (a 3-point t-interval is too wide to PASS).
    anon = {1024: 150.0 * MIB, 2048: 150.3 * MIB, 4096: 149.9 * MIB, 8192: 150.2 * MIB, 16384: 150.1 * MIB}
    records = [ProbeResult(s, {"grid_bytes": s * s * 28, "pss_anon_bytes": a, "proc_available": True})
               for s, a in anon.items()]
    assert memory_criterion(records).verdict is Verdict.PASS
    assert memory_fit(records)["slope"] == pytest.approx(0.0, abs=1e-3)


def test_cli_memory_writes_json(tmp_path, capsys) -> None:
    target = tmp_path / "memory.json"
    code = cli.main(["memory", "--sizes", "64,128", "--json", str(target)])
    assert code in (commandline.EXIT_PASS, commandline.EXIT_FAIL, commandline.EXIT_INCONCLUSIVE)
    document = json.loads(target.read_text())
    assert [m["size"] for m in document["memory"]] == [64, 128]
    assert document["criteria"][0]["id"] == "C6" and document["memory_fit"] is not None
    assert "C6" in capsys.readouterr().out


def test_cli_memory_needs_two_sizes(capsys) -> None:
    assert cli.main(["memory", "--sizes", "128"]) == commandline.EXIT_USAGE
    assert capsys.readouterr().err.count("\n") == 1
