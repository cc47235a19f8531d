"""Running the planned cells: as Dask tasks (submit, retries, as_completed) or one by one in this process,
each row journaled the moment it arrives."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from distributed import Client, as_completed

from harness.matrix.cells import TIMING_RESOURCE, CellSettings, measure_cell, timing_cell
from harness.matrix.errors import WorkerMismatchError
from harness.matrix.fingerprint import EngineIdentity, engine_identity
from harness.matrix.journal import Journal
from harness.matrix.spec import AXES, Cell
from harness.verdicts import Verdict

RowCallback = Callable[[int, Mapping[str, Any]], None]  # (rows journaled so far, the row)


@dataclass(frozen=True)
class Placement:
    """A cell to measure on one machine type: the unit the journal counts once."""

    cell: Cell
    machine_type: str

    @property
    def id(self) -> str:
        return f"{self.cell.id}@{self.machine_type}"


def plan(cells: Sequence[Cell], machine_types: Sequence[str], done: Mapping[str, Any]) -> list[Placement]:
    """Every cell on every machine type, less those the journal already holds."""
    return [p for kind in machine_types for cell in cells if (p := Placement(cell, kind)).id not in done]


def lost_row(placement: Placement, exc: BaseException) -> dict[str, Any]:
    """The row of a cell Dask gave up on (e.g. it killed worker after worker): a FAIL that says why."""
    return {"cell": placement.cell.id, **{axis: getattr(placement.cell, axis) for axis in AXES},
            "verdict": Verdict.FAIL.value, "error": f"{type(exc).__name__}: {exc}", "ratio": None,
            "machine": {"machine_type": placement.machine_type}}


def _journal(journal: Journal, placement: Placement, row: dict[str, Any], ours: EngineIdentity,
             on_row: RowCallback | None) -> None:
    theirs = EngineIdentity(row.get("engine_commit"), row.get("engine_version"))
    if "engine_version" in row and theirs != ours:  # a worker that joined after the check, with another engine
        raise WorkerMismatchError(f"cell {placement.id} ran on {row.get('where')} with farm-grids {theirs.label()}, "
                                  f"this client runs {ours.label()}")
    if journal.append({**row, "id": placement.id}) and on_row is not None:
        on_row(len(journal.rows), row)


def run_on_cluster(client: Client, placements: Sequence[Placement], hosts: Mapping[str, Sequence[str]],
                   settings: CellSettings, journal: Journal, *, retries: int = 2,
                   on_row: RowCallback | None = None) -> None:
    """Submit every placement as one Dask task (one timing unit, on its machine type's hosts); journal as they finish.

    Dask reschedules a cell whose worker died (up to distributed.scheduler.allowed-failures
    times) and retries one that raised (``retries``); each future yields one row, and the
    journal counts each id once, so a rerun cell is never counted twice.
    """
    ours = engine_identity()
    futures = {
        client.submit(timing_cell, p.cell, settings, key=f"farm-matrix-cell-{uuid.uuid4().hex}",
                      resources={TIMING_RESOURCE: 1}, workers=list(hosts[p.machine_type]),
                      allow_other_workers=False, retries=retries, pure=False): p
        for p in placements
    }
    for future in as_completed(futures, loop=client.loop):
        placement = futures[future]
        try:
            row = future.result()
        except Exception as exc:  # KilledWorker and the like: Dask's retries are spent, the cell is a FAIL
            row = lost_row(placement, exc)
        _journal(journal, placement, row, ours, on_row)


def run_in_process(placements: Sequence[Placement], settings: CellSettings, journal: Journal, *,
                   on_row: RowCallback | None = None) -> None:
    """Measure every placement here, one after another (no cluster): the reference the cluster path must match."""
    ours = engine_identity()
    for placement in placements:
        _journal(journal, placement, measure_cell(placement.cell, settings), ours, on_row)
