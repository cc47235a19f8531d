"""One cell: one paired memmap/RAM measurement of one workload, and the row that records where and when it ran.

A cell on a cluster holds its host's timing slot while it measures (see ``timing_cell``), so
no two cells ever time on one machine at once, however many workers that machine runs.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distributed import Semaphore, get_worker

from harness.acceptance.performance import TimingSettings
from harness.matrix.cell_storage import CellStorage
from harness.matrix.fingerprint import engine_identity, fingerprint, host_id
from harness.matrix.spec import AXES, Cell
from harness.matrix.storage import StorageSection, scrub
from harness.results.document import ratio_record
from harness.probes.tempfiles import scratch_dir
from harness.probes.timing import measure_paired
from harness.verdicts import Verdict
from harness.workloads.catalog import build_workload

TIMING_RESOURCE = "timing"  # the Dask worker resource every cell asks for, one unit
CELL_EVENTS = "farm-harness-matrix-cell"  # a Dask event topic: every cell logs its start (cell id, pid)


@dataclass(frozen=True)
class CellSettings:
    """How every cell of one run measures and judges; the same for every worker."""

    timing: TimingSettings
    threshold: float
    scratch_parent: str | None = None  # where a cell's scratch directory goes on its worker (None: temp)
    storage: dict[str, StorageSection] = field(default_factory=dict)  # backend -> object storage (else scratch)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")


def measure_cell(cell: Cell, settings: CellSettings, where: str = "in-process") -> dict[str, Any]:
    """Build the cell's workload for RAM and for its file backend, time them paired, and return its row.

    An engine error is a finding: the row records it with verdict FAIL instead of raising. A
    backend with object storage in ``settings`` keeps the cell's grids under a prefix of its own
    there, reached with the options this machine resolves, and removes what it wrote after.
    """
    timing = settings.timing
    options = {"seed": timing.seed, "layout": cell.layout, "agents": cell.agents}
    section = settings.storage.get(cell.backend)
    place: CellStorage | None = None
    with scratch_dir(parent=settings.scratch_parent) as scratch:
        machine = fingerprint(scratch)
        started = _now()
        measured: dict[str, Any] = {"verdict": Verdict.FAIL.value, "error": None}
        try:
            # This machine's options (its environment): a bad one is this cell's FAIL, never echoed.
            place = None if section is None else CellStorage(section, cell.id)
            storage = None if place is None else place.create()
            ram = build_workload(cell.workload, "ram", cell.size, directory=Path(scratch), **options)
            try:
                files = build_workload(cell.workload, "memmap", cell.size, directory=Path(scratch),
                                       file_backend=cell.backend, storage=storage, **options)
                try:
                    paired = measure_paired(ram.run, files.run, workload=cell.workload, blocks=timing.blocks,
                                            min_block_s=timing.min_block_s, warmup_blocks=timing.warmup_blocks,
                                            seed=timing.seed, time_budget_s=timing.time_budget_s)
                finally:
                    files.close()
            finally:
                ram.close()
            measured = {**ratio_record(paired, threshold=settings.threshold, size=cell.size), "error": None}
        except Exception as exc:  # the engine failed in this cell: a FAIL row that says why; Ctrl-C still stops
            known = place.options if place is not None else section.storage_options if section is not None else {}
            measured["error"] = scrub(f"{type(exc).__name__}: {exc}", known)
        if place is not None:
            measured["storage"] = _remove_storage(place)
        ended = _now()
    identity = engine_identity()
    return {"cell": cell.id, **{axis: getattr(cell, axis) for axis in AXES}, **measured,
            "threshold": settings.threshold, "started": started, "ended": ended, "where": where, "pid": os.getpid(),
            "engine_commit": identity.commit, "engine_version": identity.version, "machine": machine.record()}


def _remove_storage(place: CellStorage) -> dict[str, Any]:
    """Remove the cell's objects; the row's storage record says where they were and what is left."""
    record = place.record()
    try:
        removal = place.remove()
    except Exception as exc:  # the measurement stands; what could not be removed is said, secrets scrubbed
        return {**record, "removed": 0, "cleanup_error": scrub(f"{type(exc).__name__}: {exc}", place.options)}
    return {**record, "removed": removal.removed, "left": list(removal.left)}


def host_slot_name() -> str:
    """The name of this machine's one timing slot: every worker on one kernel shares it."""
    return f"farm-harness-timing-{host_id()}"


def timing_cell(cell: Cell, settings: CellSettings) -> dict[str, Any]:
    """The Dask task of one cell: take the host's timing slot, say so in an event, measure.

    Worker resources ({"timing": 1} per worker) keep a worker to one cell at a time and let
    non-timing workers share a cluster; the slot, a Dask Semaphore named by the kernel's boot id,
    makes it one cell per machine when several workers share a host. A worker killed mid-cell
    stops refreshing its lease, so the scheduler frees the slot after the lease timeout and
    reruns the cell on another worker.
    """
    worker = get_worker()
    with Semaphore(max_leases=1, name=host_slot_name()):
        worker.log_event(CELL_EVENTS, {"cell": cell.id, "pid": os.getpid(), "worker": worker.address})
        return measure_cell(cell, settings, where=worker.address)
