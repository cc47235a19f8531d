"""C2, observations: observe_all on a file-backed world equals the RAM world, and reads file-backed layers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from farm_grids.managers import ENVIRONMENTAL_LAYERS, TEMPORAL_CHANNELS, GridManager
from harness.acceptance.criterion_rows import diff_row, not_measured
from harness.acceptance.file_backing import EVIDENCE_AGENTS, has_dense_arrays, manager_layer_files
from harness.acceptance.tensors import TensorEvidence, tensor_evidence
from harness.verdicts import Criterion, unmeasurable
from harness.workloads.base import Workload
from harness.workloads.catalog import build_workload

ID = "C2"
NAME = "observations use memmap-backed layers and equal RAM"
EXPECTED_CHANNELS = 13  # the default channel registry of an Environment


@dataclass(frozen=True)
class ObservationEvidence:
    """C2: memmap observations compared with RAM observations of the same world."""
    observations_compared: int  # agents (or windows) whose memmap and RAM observations were compared
    max_abs_diff: float
    bitwise_equal: bool
    memmap_backed: bool  # the layers read by the memmap observation are file-backed


def judge(evidence: ObservationEvidence | None, tolerance: float = 0.0) -> Criterion:
    """PASS when memmap-backed observations equal RAM ones within ``tolerance``."""
    if evidence is None or evidence.observations_compared <= 0:
        return not_measured(ID, NAME)
    if unmeasurable(evidence.max_abs_diff):
        return not_measured(ID, NAME, "difference is NaN")
    problems = []
    if not evidence.memmap_backed:
        problems.append("observed layers are not memmap-backed")
    if evidence.max_abs_diff > tolerance:
        problems.append(f"max abs diff {evidence.max_abs_diff:g} > {tolerance:g}")
    how = "bitwise" if evidence.bitwise_equal else f"within {tolerance:g}"
    return diff_row(ID, NAME, problems, evidence.max_abs_diff, tolerance,
                     f"{evidence.observations_compared} observations equal {how}")


@dataclass(frozen=True)
class ObservationPair:
    """The result of observing one world through RAM and memmap environments."""

    observation: ObservationEvidence
    tensor: TensorEvidence


def _backed_everywhere(workload: Workload) -> bool:
    env = workload.env
    assert env is not None
    structures = (
        (env.environmental, ENVIRONMENTAL_LAYERS),
        (env.temporal, TEMPORAL_CHANNELS),
        (env.resources, ("RESOURCES",)),
    )
    return all(_manager_backed(manager, names) for manager, names in structures if manager is not None)


def _manager_backed(manager: GridManager, names: tuple[str, ...]) -> bool:
    """Each grid in its right-sized mapped file, or, for a backend without dense arrays
    (chunked: zarr), each grid held by that backend outside process memory."""
    if not has_dense_arrays(manager.store):
        return not manager.store.in_memory and all(manager.store.has(n) for n in names if n in manager.names())
    return all(layer.file_backed and layer.file_bytes == layer.expected_bytes
               for layer in manager_layer_files(manager, names))


def collect_observation_evidence(
    directory: Path, size: int = 256, *, file_backend: str = "memmap"
) -> ObservationPair:
    """C2 and C5: observe_all on a memmap world equals the RAM world; the batch reaches torch."""
    options = {"directory": directory, "agents": EVIDENCE_AGENTS}
    ram = build_workload("observe_all", "ram", size, **options)
    try:
        memmap = build_workload("observe_all", "memmap", size, file_backend=file_backend, **options)
        try:
            assert ram.env is not None and memmap.env is not None
            expected = ram.env.observe_all().numpy()
            batch = memmap.env.observe_all()
            got = batch.numpy().astype(expected.dtype, copy=False)
            same_shape = got.shape == expected.shape
            diff = float(np.max(np.abs(got - expected), initial=0.0)) if same_shape else float("inf")
            observation = ObservationEvidence(
                observations_compared=int(expected.shape[0]),
                max_abs_diff=diff,
                bitwise_equal=same_shape and got.tobytes() == expected.tobytes(),
                memmap_backed=_backed_everywhere(memmap),
            )
            side = memmap.env.config.observation.size
            tensor = tensor_evidence(batch, (memmap.env.num_agents, EXPECTED_CHANNELS, side, side))
        finally:
            memmap.close()
    finally:
        ram.close()
    return ObservationPair(observation, tensor)
