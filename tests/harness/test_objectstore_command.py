"""`farm-harness objectstore`: real figures from a tiny world (the S3 paths run in tests/objectstore); bad input is exit 2."""

from __future__ import annotations

import json
from pathlib import Path

from harness import cli
from harness.commandline import EXIT_PASS, EXIT_USAGE


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
