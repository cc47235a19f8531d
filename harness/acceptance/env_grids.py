"""C1, environmental grids use the file backend: every layer has a right-sized file behind its array."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from farm_grids.managers import ENVIRONMENTAL_LAYERS
from harness.acceptance.criterion_rows import bool_row, not_measured
from harness.acceptance.file_backing import LayerFile, file_world_params, manager_layer_files
from harness.verdicts import Criterion
from harness.workloads.base import WorldOwner
from harness.workloads.catalog import build_environment, simulation_config

ID = "C1"
NAME = "environmental grids use memmap when enabled"


@dataclass(frozen=True)
class EnvGridEvidence:
    """C1: the layers an environment with memmap enabled should have, and what was found."""
    expected_layers: tuple[str, ...]
    layers: tuple[LayerFile, ...]


def judge(evidence: EnvGridEvidence | None) -> Criterion:
    """PASS when every expected layer has a file of the right size backing its array."""
    if evidence is None or not evidence.expected_layers:
        return not_measured(ID, NAME)
    found = {layer.layer: layer for layer in evidence.layers}
    problems = []
    for name in evidence.expected_layers:
        layer = found.get(name)
        if layer is None or layer.file_bytes is None:
            problems.append(f"{name}: no file on disk")
        elif layer.file_bytes != layer.expected_bytes:
            problems.append(f"{name}: file has {layer.file_bytes} bytes, expected {layer.expected_bytes}")
        elif not layer.file_backed:
            problems.append(f"{name}: array is not file-backed")
    total = sum(found[n].expected_bytes for n in evidence.expected_layers if n in found)
    return bool_row(ID, NAME, problems, f"{len(evidence.expected_layers)} layers file-backed, {total} bytes on disk")


def collect_env_grid_evidence(
    directory: Path, size: int = 256, *, file_backend: str = "memmap"
) -> EnvGridEvidence:
    """C1: a memmap environment with every layer set has one right-sized file behind each layer."""
    holder = WorldOwner(file_world_params(directory, size, file_backend))
    try:
        holder.env = env = build_environment(simulation_config(holder.params))
        rng = np.random.default_rng(1)
        for layer in ENVIRONMENTAL_LAYERS:
            env.set_environmental_layer(layer, rng.random((size, size), dtype=np.float32))
        layers = manager_layer_files(env.environmental, ENVIRONMENTAL_LAYERS)
    finally:
        holder.close()
    return EnvGridEvidence(expected_layers=ENVIRONMENTAL_LAYERS, layers=layers)
