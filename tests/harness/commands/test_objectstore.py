"""`farm-harness objectstore`: real figures from a tiny world, locally and on a SeaweedFS it starts; bad input is exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import psutil

from harness import cli
from harness.commands.commandline import EXIT_PASS, EXIT_USAGE


def test_a_tiny_run_reports_every_figure(tmp_path: Path, capsys) -> None:
    out = tmp_path / "figures.json"
    argv = ["objectstore", "--size", "64", "--agents", "20", "--blocks", "2", "--skip-s3", "--json", str(out)]
    assert cli.main(argv) == EXIT_PASS
    figures = json.loads(out.read_text())
    assert figures["local"]["world_mib"] > 0 and figures["local"]["snapshot_mib_s"] > 0
    assert figures["local"]["restore_s"] > 0 and "s3" not in figures
    assert set(figures["warm_zarr_vs_ram"]) == {"batched_windows", "observe_all"}
    assert figures["warm_zarr_vs_ram"]["observe_all"]["ratio"] > 0
    assert "zarr_python_window_us" in figures["libraries"]


def test_bad_sizes_are_usage_errors(capsys) -> None:
    assert cli.main(["objectstore", "--size", "8"]) == EXIT_USAGE
    assert capsys.readouterr().err.count("\n") == 1
    assert cli.main(["objectstore", "--endpoint", "http://127.0.0.1:1"]) == EXIT_USAGE


def _weed_children() -> set[int]:
    return {child.pid for child in psutil.Process().children(recursive=True) if child.name() == "weed"}


def test_a_tiny_run_on_seaweedfs_sets_each_s3_figure_beside_the_raw_floor(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    argv = ["objectstore", "--size", "64", "--agents", "20", "--blocks", "2", "--repeats", "1", "--json", str(out)]
    servers_before = _weed_children()
    assert cli.main(argv) == EXIT_PASS
    figures = json.loads(out.read_text())
    assert figures["s3_server"].startswith("SeaweedFS ")
    s3 = figures["s3"]
    assert s3["objects"] > 0 and s3["stored_mib"] > 0 and s3["raw_put_s"] > 0 and s3["raw_get_s"] > 0
    assert s3["snapshot_of_raw_put"] == s3["raw_put_s"] / s3["snapshot_s"]
    assert s3["restore_of_raw_get"] == s3["raw_get_s"] / s3["restore_s"]
    cold = figures["cold_first_tick_s3"]
    assert cold["gets"] >= cold["chunks_fetched"] > 0 and cold["get_mib"] > 0  # the chunks, and any metadata
    assert cold["first_tick_of_raw_get"] == cold["first_tick_s"] / cold["raw_get_s"]
    # The server it started is gone (a session's own test server may still run beside it).
    assert _weed_children() == servers_before
