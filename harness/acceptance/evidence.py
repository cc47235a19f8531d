"""Evidence for C1, C2, C3 and C5 collected from real RAM and memmap environments."""

from __future__ import annotations

import mmap
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from farm_grids.managers import ENVIRONMENTAL_LAYERS, TEMPORAL_CHANNELS, GridManager
from farm_grids.errors import GridNotDenseError
from farm_grids.stores import GridStore
from harness.acceptance.criteria import (
    EnvGridEvidence,
    LayerFile,
    ObservationEvidence,
    PersistenceEvidence,
    TensorEvidence,
)
from harness.workloads.base import Workload, WorkloadParams, WorldOwner
from harness.workloads.catalog import build_environment, build_workload, simulation_config

PROC_MAPS = "/proc/self/maps"
EXPECTED_CHANNELS = 13  # the default channel registry of an Environment
# Small worlds: these checks are about correctness, not speed; 256 random agents hit edges too.
EVIDENCE_AGENTS = 256


def _mapped_ranges(path: Path, maps_path: str = PROC_MAPS) -> list[tuple[int, int]] | None:
    """Address ranges of every mapping of ``path`` in this process; None where /proc is missing."""
    try:
        text = Path(maps_path).read_text()
    except OSError:
        return None
    target = os.path.realpath(path)
    ranges = []
    for line in text.splitlines():
        fields = line.split(maxsplit=5)
        # A deleted file shows as "path (deleted)": it no longer counts as backed by ``path``.
        if len(fields) == 6 and fields[5] == target:
            start, _, end = fields[0].partition("-")
            ranges.append((int(start, 16), int(end, 16)))
    return ranges


def _has_mmap_base(array: np.ndarray) -> bool:
    base: object = array
    while base is not None:
        if isinstance(base, mmap.mmap):
            return True
        base = getattr(base, "base", None) or getattr(base, "_mmap", None)
    return False


def array_is_file_backed(array: np.ndarray, path: Path | None) -> bool:
    """True when ``array``'s memory lies inside a mapping of ``path`` (/proc/self/maps),
    or, where /proc is missing, when it is a view of an mmap and the store gave a path."""
    if path is None or not path.exists():
        return False
    ranges = _mapped_ranges(path)
    if ranges is None:
        return _has_mmap_base(array)
    address = array.__array_interface__["data"][0]
    return any(start <= address < end for start, end in ranges)


def manager_layer_files(manager: GridManager, names: tuple[str, ...]) -> tuple[LayerFile, ...]:
    """What is on disk behind each grid ``names`` of ``manager`` (absent grids: no file)."""
    found = []
    for name in names:
        if name not in manager.names():
            found.append(LayerFile(name, 0, None, False))
            continue
        info = manager.store.info(name)
        expected = info.shape[0] * info.shape[1] * np.dtype(info.dtype).itemsize
        path = info.path
        size = path.stat().st_size if path is not None and path.exists() else None
        found.append(LayerFile(name, expected, size, array_is_file_backed(manager.store.get(name), path)))
    return tuple(found)


def _memmap_params(directory: Path, size: int, file_backend: str) -> WorkloadParams:
    return WorkloadParams(backend="memmap", size=size, directory=directory, agents=EVIDENCE_AGENTS,
                          file_backend=file_backend)


def collect_env_grid_evidence(
    directory: Path, size: int = 256, *, file_backend: str = "memmap"
) -> EnvGridEvidence:
    """C1: a memmap environment with every layer set has one right-sized file behind each layer."""
    holder = WorldOwner(_memmap_params(directory, size, file_backend))
    try:
        holder.env = env = build_environment(simulation_config(holder.params))
        rng = np.random.default_rng(1)
        for layer in ENVIRONMENTAL_LAYERS:
            env.set_environmental_layer(layer, rng.random((size, size), dtype=np.float32))
        layers = manager_layer_files(env.environmental, ENVIRONMENTAL_LAYERS)
    finally:
        holder.close()
    return EnvGridEvidence(expected_layers=ENVIRONMENTAL_LAYERS, layers=layers)


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


def has_dense_arrays(store: GridStore) -> bool:
    """Whether ``get()`` hands out the array behind a grid (False: chunked, GridNotDenseError)."""
    for name in store.names():
        try:
            store.get(name)
        except GridNotDenseError:
            return False
        return True
    return True


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


def tensor_evidence(batch: object, expected_shape: tuple[int, ...]) -> TensorEvidence:
    """C5: dtype float32, the expected shape, zero-copy to numpy, and a conv2d that runs."""
    try:
        import torch
    except ImportError:
        return TensorEvidence(False, "", (), False, False, False, False)
    if not isinstance(batch, torch.Tensor):
        return TensorEvidence(True, type(batch).__name__, (), False, False, False, False)
    shape = tuple(int(n) for n in batch.shape)
    return TensorEvidence(
        torch_available=True,
        dtype=str(batch.dtype).removeprefix("torch."),
        shape=shape,
        dtype_ok=batch.dtype == torch.float32,
        shape_ok=shape == tuple(expected_shape),
        shares_memory=_zero_copy(batch),
        torch_op_ok=_conv2d_runs(batch),
    )


def _zero_copy(batch: object) -> bool:
    """Whether the tensor and its numpy view are one buffer: a write through one shows in the other."""
    import torch

    assert isinstance(batch, torch.Tensor)
    if batch.device.type != "cpu" or batch.numel() == 0:
        return False
    try:
        array = batch.numpy()
    except (RuntimeError, TypeError):  # e.g. bfloat16 has no numpy dtype
        return False
    if array.__array_interface__["data"][0] != batch.data_ptr():
        return False
    index = (0,) * batch.ndim
    old = array[index].copy()
    array[index] = old + 1
    shared = bool(batch[index].item() == float(array[index]))
    array[index] = old
    return shared


def _conv2d_runs(batch: object) -> bool:
    import torch

    assert isinstance(batch, torch.Tensor)
    if batch.ndim != 4:
        return False
    try:
        weight = torch.ones((4, batch.shape[1], 3, 3), dtype=torch.float32, device=batch.device)
        result = torch.nn.functional.conv2d(batch, weight, padding=1)
    except (RuntimeError, TypeError):
        return False
    return tuple(result.shape) == (batch.shape[0], 4, batch.shape[2], batch.shape[3]) and bool(
        torch.isfinite(result).all()
    )


def collect_persistence_evidence(
    directory: Path, size: int = 256, *, file_backend: str = "memmap", points: int = 512
) -> PersistenceEvidence:
    """C3: deposit, decay with update(), flush, close, reopen read-only: values match v * gamma."""
    params = _memmap_params(directory, size, file_backend)
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
