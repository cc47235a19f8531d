"""Engine micro-workloads: bare-store window reads, deposits and sparse decay, each with its baseline."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from farm_grids.config import ObservationConfig
from farm_grids.managers import TemporalGridManager
from farm_grids.stores import GridStore, build_store
from harness.errors import HarnessUsageError
from harness.workloads.base import SLOW_FADE_GAMMA, Workload, WorkloadParams, memmap_config

SINGLE_READS = 256  # single-window reads per call
BATCH_CENTRES = 10_000  # windows per batched gather
DEPOSIT_EVENTS = 10_000  # events per deposit
ACTIVE_FRACTION = 0.01  # share of tiles holding data in the sparse-decay world
GRID = "GRID"
TRAILS = "TRAILS"


class _StoreReads(Workload):
    """A random float32 grid in a bare store (no manager) and ``count`` in-bounds R-windows."""

    count = SINGLE_READS

    def __init__(self, params: WorkloadParams) -> None:
        super().__init__(params)
        r, size = params.radius, params.size
        if size <= 2 * r:
            raise HarnessUsageError(f"size {size} leaves no in-bounds centre for radius {r}")
        backend = "ram" if params.backend == "ram" else params.file_backend
        self.store: GridStore = build_store(backend, memmap_config(params), namespace="bench",
                                           simulation_id=params.simulation_id)
        try:
            self.store.create(GRID, (size, size))
            self.store.write(GRID, self.random_layer(size))
        except BaseException:
            self.store.close_all(delete_files=True)
            raise
        # The plain ndarray the store itself reads (the bare-copy baselines); a tiled grid is no
        # one array, so its baselines read a dense copy of the same values.
        self.array = self.store.get(GRID) if params.layout == "rows" else self.store.read(GRID)
        self.ys, self.xs = self.rng.integers(r, size - r, self.count), self.rng.integers(r, size - r, self.count)
        self.bounds = [(y - r, y + r + 1, x - r, x + r + 1) for y, x in zip(self.ys.tolist(), self.xs.tolist())]

    def bare_slices(self) -> None:
        """The baseline: a Python loop of bare ``arr[y0:y1, x0:x1].copy()`` over the same bounds."""
        array = self.array
        for y0, y1, x0, x1 in self.bounds:
            array[y0:y1, x0:x1].copy()

    # What plain numpy and plain Python manage on the same data: the floors the engine's
    # targets are measured against (informational comparisons, never an engine path).
    def wrapped_slices(self) -> None:
        """The bare copy behind one Python function call with no checks at all."""
        array = self.array
        for y0, y1, x0, x1 in self.bounds:
            _slice_copy(array, y0, y1, x0, x1)

    def plain_gather(self) -> object:
        """``sliding_window_view(a, (S, S))[ys - r, xs - r]`` into a fresh array."""
        side = 2 * self.params.radius + 1
        view = np.lib.stride_tricks.sliding_window_view(self.array, (side, side))
        return view[self.ys - self.params.radius, self.xs - self.params.radius]

    def files(self) -> list[Path]:
        return [p for p in (self.store.info(n).path for n in self.store.names()) if p is not None]

    def close(self) -> None:
        self.store.close_all(delete_files=True)
        super().close()


def _slice_copy(array: np.ndarray, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    return array[y0:y1, x0:x1].copy()


class StoreWindows(_StoreReads):
    """256 single in-bounds R-windows through ``store.get_window``."""

    def run(self) -> object:
        read, last = self.store.get_window, None
        for y0, y1, x0, x1 in self.bounds:
            last = read(GRID, y0, y1, x0, x1)
        return last


class StoreBatchedWindows(_StoreReads):
    """One ``store.get_windows`` gather of 10,000 in-bounds R-windows into a reused ``out`` buffer."""

    count = BATCH_CENTRES

    def __init__(self, params: WorkloadParams) -> None:
        super().__init__(params)
        side = 2 * params.radius + 1
        self.out = np.empty((self.count, side, side), dtype=np.float32)

    def run(self) -> object:
        return self.store.get_windows(GRID, self.ys, self.xs, self.params.radius, out=self.out)


class StoreFreshBatchedWindows(StoreBatchedWindows):
    """The same gather into a fresh array each call (numpy's fast path, no copy out of a temporary)."""

    def run(self) -> object:
        return self.store.get_windows(GRID, self.ys, self.xs, self.params.radius)


class TemporalDeposit(Workload):
    """``TemporalGridManager.deposit`` of 10,000 trail events at fixed random cells."""

    def __init__(self, params: WorkloadParams) -> None:
        super().__init__(params)
        self.manager = TemporalGridManager(params.size, params.size, memmap_config=memmap_config(params), simulation_id=params.simulation_id)
        self.managers.append(self.manager)
        self.ys, self.xs = self.centres(DEPOSIT_EVENTS, params.size)
        self.values = np.full(DEPOSIT_EVENTS, 0.01)

    def run(self) -> object:
        return self.manager.deposit(TRAILS, self.ys, self.xs, self.values)

    def per_event_loop(self) -> None:
        """The baseline: one ``store.add_at`` per event, in a Python loop."""
        add = self.manager.store.add_at
        for y, x, v in zip(self.ys.tolist(), self.xs.tolist(), self.values.tolist()):
            add(TRAILS, y, x, v)


class SparseActiveDecay(Workload):
    """``apply_decay`` of a world whose trails fill 1 % of the tiles, scattered at random."""

    def __init__(self, params: WorkloadParams) -> None:
        super().__init__(params)
        observation = ObservationConfig(gamma_trail=SLOW_FADE_GAMMA)
        self.manager = TemporalGridManager(params.size, params.size, memmap_config=memmap_config(params), simulation_id=params.simulation_id,
                                           observation_config=observation)
        self.managers.append(self.manager)
        tile = self.manager.tile_size
        per_side = -(-params.size // tile)
        chosen = self.rng.choice(per_side * per_side, size=max(1, round(ACTIVE_FRACTION * per_side**2)), replace=False)
        tile_y, tile_x = np.divmod(chosen, per_side)
        offsets = np.arange(tile)
        ys, xs = np.broadcast_arrays(
            tile_y[:, None, None] * tile + offsets[None, :, None], tile_x[:, None, None] * tile + offsets[None, None, :]
        )
        self.manager.deposit(TRAILS, ys.ravel(), xs.ravel(), 1.0)  # out-of-world cells of edge tiles drop

    def run(self) -> object:
        return self.manager.apply_decay()

    def full_grid_multiply(self) -> None:
        """The baseline: multiply the whole channel, as decay did before active tiles."""
        self.manager.store.scale(TRAILS, self.manager.gamma_for(TRAILS))
