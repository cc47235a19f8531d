"""Evidence collectors on real environments: each criterion PASSes on the engine and FAILs on a broken store."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.harness import faulty_stores
from farm_grids.config import ObservationConfig, SimulationConfig
from farm_grids.environment import Environment
from farm_grids.stores import RamStore
from harness.acceptance import coverage, env_grids, file_backing, observations, persistence, portability, tensors
from harness.verdicts import Verdict
from harness.workloads.catalog import WORKLOADS, WorkloadSpec

SIZE = 64


@pytest.fixture(autouse=True)
def _nothing_left_behind(tmp_path):
    yield
    assert list(tmp_path.iterdir()) == [], "a collector left files behind"


def test_env_grids_passes_on_the_memmap_engine(tmp_path) -> None:
    found = env_grids.collect_env_grid_evidence(tmp_path, SIZE)
    assert all(layer.file_backed and layer.file_bytes == SIZE * SIZE * 4 for layer in found.layers)
    assert env_grids.judge(found).verdict is Verdict.PASS


@pytest.mark.parametrize(("factory", "problem"), [
    (faulty_stores.UnlinkedFiles, "no file on disk"),
    (RamStore, "no file on disk"),
    (faulty_stores.LoadsWholeGrid, "not file-backed"),
])
def test_env_grids_fails_when_files_are_missing_or_not_mapped(tmp_path, factory, problem) -> None:
    row = env_grids.judge(env_grids.collect_env_grid_evidence(tmp_path, SIZE, file_backend=faulty_stores.backend(factory)))
    assert row.verdict is Verdict.FAIL and problem in row.details


def test_a_ram_array_is_not_file_backed(tmp_path) -> None:
    path = tmp_path / "grid.dat"
    path.write_bytes(b"\0" * 64)
    assert not file_backing.array_is_file_backed(np.zeros(16, dtype=np.float32), path)
    mapped = np.memmap(path, dtype=np.float32, mode="r")
    assert file_backing.array_is_file_backed(np.asarray(mapped), path)
    del mapped
    path.unlink()


def test_observations_and_tensors_pass_on_the_engine(tmp_path) -> None:
    pair = observations.collect_observation_evidence(tmp_path, SIZE)
    assert pair.observation.bitwise_equal and pair.observation.memmap_backed
    assert observations.judge(pair.observation).verdict is Verdict.PASS
    assert pair.tensor.shape == (file_backing.EVIDENCE_AGENTS, 13, 13, 13)
    assert tensors.judge(pair.tensor).verdict is Verdict.PASS


def test_observations_fails_when_the_store_returns_wrong_windows(tmp_path) -> None:
    pair = observations.collect_observation_evidence(tmp_path, SIZE, file_backend=faulty_stores.backend(faulty_stores.WrongWindows))
    row = observations.judge(pair.observation)
    assert row.verdict is Verdict.FAIL and "max abs diff" in row.details


def test_observations_fails_when_observed_layers_are_not_file_backed(tmp_path) -> None:
    pair = observations.collect_observation_evidence(tmp_path, SIZE, file_backend="ram")
    row = observations.judge(pair.observation)
    assert row.verdict is Verdict.FAIL and "not memmap-backed" in row.details


def test_tensors_fails_on_a_float64_batch() -> None:
    config = SimulationConfig(width=SIZE, height=SIZE, observation=ObservationConfig(dtype="float64"))
    with Environment(config) as env:
        env.add_agents(np.array([0, 10, 63]), np.array([5, 10, 63]))
        batch = env.observe_all()
        found = tensors.tensor_evidence(batch, (3, 13, 13, 13))
    row = tensors.judge(found)
    assert row.verdict is Verdict.FAIL and "dtype float64 failed" in row.details


def test_tensors_fails_on_a_wrong_shape_and_a_copied_batch() -> None:
    batch = torch.zeros((2, 12, 13, 13), dtype=torch.float32)
    found = tensors.tensor_evidence(batch, (2, 13, 13, 13))
    assert not found.shape_ok and found.shares_memory
    assert tensors.judge(found).verdict is Verdict.FAIL
    assert not tensors.tensor_evidence(np.zeros((2, 13, 13, 13)), (2, 13, 13, 13)).dtype_ok


def test_persistence_passes_on_the_engine(tmp_path) -> None:
    found = persistence.collect_persistence_evidence(tmp_path, SIZE)
    assert found.reopened_read_only and found.decay_applied and found.max_abs_diff == 0.0
    assert persistence.judge(found).verdict is Verdict.PASS


def test_persistence_fails_when_wrong_values_persist(tmp_path) -> None:
    found = persistence.collect_persistence_evidence(tmp_path, SIZE, file_backend=faulty_stores.backend(faulty_stores.CorruptsOnFlush))
    row = persistence.judge(found)
    assert row.verdict is Verdict.FAIL and "after reopen" in row.details


def test_coverage_passes_when_every_workload_ran_and_warns_when_some_were_skipped() -> None:
    assert coverage.judge(coverage.coverage_evidence(WORKLOADS)).verdict is Verdict.PASS
    partial = coverage.coverage_evidence(["batched_windows"])
    assert partial.measured == {"OBSTACLES"}
    assert coverage.judge(partial).verdict is Verdict.WARN


def test_coverage_fails_when_no_workload_covers_a_structure() -> None:
    registry = {name: spec for name, spec in WORKLOADS.items()
                if "TRAILS" not in spec.structures}
    registry["decoy"] = WorkloadSpec("decoy", "", WORKLOADS["batched_windows"].factory, ("OBSTACLES",))
    row = coverage.judge(coverage.coverage_evidence(registry, registry))
    assert row.verdict is Verdict.FAIL and "TRAILS" in row.details
    assert coverage.REQUIRED_STRUCTURES >= {"TRAILS"}


def test_portability_passes_on_the_storage_core(tmp_path) -> None:
    found = portability.collect_portability_evidence(tmp_path)
    assert "numpy" in found.storage_imports and len(found.file_names) == len(portability.ODD_GRID_NAMES) + 1
    assert portability.judge(found).verdict is Verdict.PASS


def test_portability_fails_on_a_forbidden_import_in_the_storage_core() -> None:
    sources = portability.storage_core_sources()
    sources["farm_grids/stores/zarr/store.py"] = "import os\nfrom torch import nn\n"
    found = portability.portability_evidence(sources, ("ok_name.dat",), "TestOS")
    row = portability.judge(found)
    assert row.verdict is Verdict.FAIL and "torch" in row.details


def test_portability_fails_on_unsanitised_file_names() -> None:
    found = portability.portability_evidence({"m.py": "import numpy\n"}, ("a/b.dat", "CON"), "TestOS")
    assert portability.judge(found).verdict is Verdict.FAIL
