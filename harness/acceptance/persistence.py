"""C3, temporal persistence: deposited values, decayed by update() and flushed, survive a read-only reopen."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from farm_grids.managers import TEMPORAL_CHANNELS
from harness.acceptance.criterion_rows import diff_row, not_measured
from harness.acceptance.file_backing import file_world_params, has_dense_arrays
from harness.verdicts import Criterion, unmeasurable
from harness.workloads.base import WorldOwner
from harness.workloads.catalog import build_environment, simulation_config

ID = "C3"
NAME = "temporal persistence"


@dataclass(frozen=True)
class PersistenceEvidence:
    """C3: temporal values deposited, decayed, flushed, then read back after a read-only reopen."""
    values_checked: int
    max_abs_diff: float  # |value after reopen - expected value after deposit + decay|
    reopened_read_only: bool
    decay_applied: bool  # update() changed the values before they were flushed


def judge(evidence: PersistenceEvidence | None, tolerance: float = 1e-6) -> Criterion:
    """PASS when decayed temporal values survive a read-only reopen."""
    if evidence is None or evidence.values_checked <= 0:
        return not_measured(ID, NAME)
    if unmeasurable(evidence.max_abs_diff):
        return not_measured(ID, NAME, "difference is NaN")
    problems = []
    if not evidence.reopened_read_only:
        problems.append("could not reopen read-only")
    if not evidence.decay_applied:
        problems.append("update() did not decay the deposited values")
    if evidence.max_abs_diff > tolerance:
        problems.append(f"max abs diff {evidence.max_abs_diff:g} > {tolerance:g} after reopen")
    return diff_row(ID, NAME, problems, evidence.max_abs_diff, tolerance,
                     f"{evidence.values_checked} values match after read-only reopen")


def collect_persistence_evidence(
    directory: Path, size: int = 256, *, file_backend: str = "memmap", points: int = 512
) -> PersistenceEvidence:
    """C3: deposit, decay with update(), flush, close, reopen read-only: values match v * gamma."""
    params = file_world_params(directory, size, file_backend)
    config = simulation_config(params)
    config = config.with_overrides({"memmap.delete_on_close": False})
    holder = WorldOwner(params)
    rng = np.random.default_rng(3)
    cells = rng.choice(size * size, size=min(points, size * size), replace=False)
    ys, xs = np.divmod(cells, size)
    deposited = {ch: rng.uniform(0.1, 1.0, cells.size).astype(np.float32) for ch in TEMPORAL_CHANNELS}
    leftovers: list[Path] = []  # delete_on_close is off: remove every file and manifest ourselves
    try:
        holder.env = env = build_environment(config)
        temporal = env.temporal
        assert temporal is not None
        for channel, values in deposited.items():
            env.deposit_temporal_events(channel, ys, xs, values, accumulate=False, clip_max=None)
        before = {ch: temporal.store.get_cells(ch, ys, xs) for ch in TEMPORAL_CHANNELS}
        env.update()
        decay_applied = all(not np.array_equal(temporal.store.get_cells(ch, ys, xs), before[ch])
                            for ch in TEMPORAL_CHANNELS)
        expected = {ch: v * np.float32(temporal.gamma_for(ch)) for ch, v in deposited.items()}
        temporal.flush()
        manifest = temporal.manifest_path
        assert manifest is not None
        leftovers = env.files() + [m.manifest_path for m in env.managers if m.manifest_path is not None]
        env.close()  # keeps the files and the manifests
        # Reopened by the same backend that wrote it (memmap: the manifest; zarr: the group).
        reader = type(temporal.store).open(manifest, mode="r")
        try:
            dense = has_dense_arrays(reader)
            read_only = all(not reader.info(ch).writable and (not dense or not reader.get(ch).flags.writeable)
                            for ch in TEMPORAL_CHANNELS)
            diff = max(float(np.max(np.abs(reader.get_cells(ch, ys, xs) - expected[ch]))) for ch in TEMPORAL_CHANNELS)
        finally:
            reader.close_all()
    finally:
        holder.close()
        for path in leftovers:
            if path.is_dir():  # a zarr group: its location is a directory
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
    return PersistenceEvidence(values_checked=int(cells.size) * len(TEMPORAL_CHANNELS), max_abs_diff=diff,
                               reopened_read_only=read_only, decay_applied=decay_applied)
