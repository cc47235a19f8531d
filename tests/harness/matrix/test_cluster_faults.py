"""A real LocalCluster of two worker processes: a SIGKILLed worker mid-cell, a SIGKILLed client, and the journal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from distributed import Client

from harness.cli import main
from harness.matrix.cells import CELL_EVENTS
from harness.matrix.journal import JOURNAL_NAME
from harness.matrix.spec import load_spec

from .conftest import cli_env, eight_cells, matrix_command

DEADLINE_S = 60.0


def journal_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a journal (every whole line but the header)."""
    lines = path.read_bytes().split(b"\n")[:-1] if path.exists() else []
    return [json.loads(line) for line in lines[1:]]


def cell_starts(client: Client) -> list[dict[str, Any]]:
    """Every cell start the workers have logged so far: (cell, pid, worker)."""
    return [message for _, message in client.get_events(CELL_EVENTS)]


def wait_for(condition: Any, what: str) -> Any:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_worker_killed_mid_cell_has_its_cell_rerun_elsewhere_and_counted_once(two_workers, tmp_path) -> None:
    cluster, client = two_workers
    spec_path = eight_cells(tmp_path / "spec.yaml")
    cells = {cell.id for cell in load_spec(spec_path).cells()}
    assert len(cells) == 8
    seen = len(cell_starts(client))
    out = tmp_path / "out"
    exit_codes: list[int] = []
    # The client runs in a thread of this process; the fault is the worker's, killed from here.
    client_thread = threading.Thread(target=lambda: exit_codes.append(main(
        ["matrix", str(spec_path), "--scheduler", cluster.scheduler_address, "--out", str(out)])))
    client_thread.start()
    try:
        # The first cell to take the host's timing slot: its worker is SIGKILLed while it measures.
        victim = wait_for(lambda: cell_starts(client)[seen:][:1], "a cell to start")[0]
        os.kill(victim["pid"], signal.SIGKILL)
    finally:
        client_thread.join(timeout=120)
    assert exit_codes and exit_codes[0] in (0, 1, 3)

    rows = journal_rows(out / JOURNAL_NAME)
    assert sorted(row["cell"] for row in rows) == sorted(cells)  # every cell exactly once
    assert len({row["id"] for row in rows}) == len(rows) == 8
    rerun = next(row for row in rows if row["cell"] == victim["cell"])
    assert rerun["pid"] != victim["pid"]  # its row came from another worker: the killed run never finished
    assert rerun["ratio"] is not None and rerun["error"] is None
    starts = [s for s in cell_starts(client)[seen:] if s["cell"] == victim["cell"]]
    assert len(starts) >= 2 and starts[-1]["pid"] == rerun["pid"]
    # One timing cell at a time on this host, across both workers and the rerun.
    spans = sorted((row["started"], row["ended"]) for row in rows)
    assert all(earlier[1] <= later[0] for earlier, later in zip(spans, spans[1:])), spans
    assert all(row["machine"]["cpu_model"] and row["machine"]["filesystem"] and row["engine_version"] for row in rows)


def test_resume_after_the_client_is_killed_redoes_no_finished_cell(two_workers, tmp_path) -> None:
    cluster, client = two_workers
    spec_path = eight_cells(tmp_path / "spec.yaml")
    out = tmp_path / "out"
    journal = out / JOURNAL_NAME
    command = matrix_command(str(spec_path), "--scheduler", cluster.scheduler_address, "--out", str(out))
    first = subprocess.Popen(command, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: len(journal_rows(journal)) >= 3, "three journaled cells")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    before = {row["id"]: row for row in journal_rows(journal)}
    assert 3 <= len(before) < 8
    seen = len(cell_starts(client))

    resumed = subprocess.run([*command, "--resume"], env=cli_env(), capture_output=True, text=True, timeout=120)
    assert resumed.returncode in (0, 1, 3), resumed.stderr
    assert f"{len(before)} of 8 cells already in" in resumed.stdout

    rows = journal_rows(journal)
    assert len({row["id"] for row in rows}) == len(rows) == 8
    assert all(row == before[row["id"]] for row in rows if row["id"] in before)  # finished rows untouched
    restarted = {start["cell"] for start in cell_starts(client)[seen:]}
    assert restarted and not restarted & {row["cell"] for row in before.values()}  # none of them ran again
