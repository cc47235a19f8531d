"""Cold batched gathers on a dense file-backed grid: us/window, bytes read, faults and resident pages against the layout's minimum."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from farm_grids.config import MemmapConfig
from farm_grids.stores import MemmapStore, build_store
from harness.probes import process_stats as procstats
from harness.probes.disk_floor import read_floor
from harness.errors import HarnessUsageError
from harness.probes.footprint import FileLayout

GRID = "GRID"
BLOCK_BYTES = 512  # ru_inblock counts 512-byte blocks
ACCESS = ("auto", "random", "normal")
GATHER_WINDOWS = 10_000
GATHER_RADIUS = 6
GATHER_RUN = "gather"  # the run id the dense grid is made under, so a backend can reopen it in place


@dataclass(frozen=True)
class GatherSetting:
    """One way of reading a grid file: its layout (``rows`` or ``tiles<side>``), prefetch and readahead."""

    layout: str = "rows"
    prefetch: bool = True
    access: str = "auto"

    def __post_init__(self) -> None:
        FileLayout.named((64, 64), self.layout)  # a typed error for a bad name
        if self.access not in ACCESS:
            raise HarnessUsageError(f"unknown access {self.access!r}; use one of {ACCESS}")
        if not isinstance(self.prefetch, bool):
            raise HarnessUsageError(f"prefetch must be a bool, got {self.prefetch!r}")

    @property
    def label(self) -> str:
        return f"{self.layout} prefetch={'on' if self.prefetch else 'off'} access={self.access}"

    @classmethod
    def parse(cls, text: str) -> GatherSetting:
        """``layout[:prefetch|noprefetch][:auto|random|normal]``, e.g. ``tiles32:prefetch:random``."""
        layout, *options = [part.strip() for part in text.split(":")]
        prefetch, access = True, "auto"
        for option in options:
            if option in ("prefetch", "noprefetch"):
                prefetch = option == "prefetch"
            elif option in ACCESS:
                access = option
            else:
                raise HarnessUsageError(f"gather setting {text!r}: unknown option {option!r} "
                                        f"(prefetch, noprefetch, {', '.join(ACCESS)})")
        return cls(layout, prefetch, access)


@dataclass(frozen=True)
class ColdGather:
    """Trials of one cold gather: each after evicting the file and reopening it read-only."""

    setting: GatherSetting
    size: int
    windows: int
    radius: int
    cold_s: tuple[float, ...]
    warm_s: tuple[float, ...]  # the same gather again right after, pages now cached
    inblock_bytes: tuple[int | None, ...]
    major_faults: tuple[int | None, ...]
    resident_bytes: tuple[int | None, ...]  # mincore of the mapping after the cold gather
    needed_bytes: int  # the pages the windows cover in this layout (the layout's minimum)
    tile_bytes: int | None  # whole storage tiles the windows cover (tiles layout), the coarser minimum
    file_bytes: int
    evicted: bool
    floor_us_per_window: float | None = None  # the same pages read direct from the device (gather_floor_us), if asked
    floor_s: tuple[float, ...] = ()  # per trial: the gather's pages read direct just before it (read_floor)
    floor_reader: str | None = None  # which reader read them (fio, or the pread fallback)

    @property
    def floor_ratios(self) -> tuple[float, ...] | None:
        """Per trial: the cold gather's time beyond its warm time, over the floor of its pages."""
        if len(self.floor_s) != len(self.cold_s) or not all(f > 0 for f in self.floor_s):
            return None
        return tuple((c - w) / f for c, w, f in zip(self.cold_s, self.warm_s, self.floor_s))

    @property
    def us_per_window(self) -> tuple[float, ...]:
        return tuple(s / self.windows * 1e6 for s in self.cold_s)

    @property
    def warm_us_per_window(self) -> tuple[float, ...]:
        return tuple(s / self.windows * 1e6 for s in self.warm_s)

    @property
    def read_ratios(self) -> tuple[float, ...] | None:
        """Bytes read from disk over the layout's minimum, per trial; None where unmeasured."""
        if not self.needed_bytes or any(b is None for b in self.inblock_bytes):
            return None
        return tuple(b / self.needed_bytes for b in self.inblock_bytes)  # type: ignore[operator]

    @property
    def eviction_effective(self) -> bool:
        return self.evicted and all(b for b in self.inblock_bytes)

    def record(self) -> dict[str, Any]:
        return {
            "kind": "cold_gather", "layout": self.setting.layout, "prefetch": self.setting.prefetch,
            "access": self.setting.access, "size": self.size, "windows": self.windows, "radius": self.radius,
            "cold_s": list(self.cold_s), "warm_s": list(self.warm_s),
            "us_per_window": float(np.median(self.us_per_window)),
            "warm_us_per_window": float(np.median(self.warm_us_per_window)),
            "inblock_bytes": list(self.inblock_bytes), "major_faults": list(self.major_faults),
            "read_bytes": _median_or_none(self.inblock_bytes), "resident_median_bytes": _median_or_none(self.resident_bytes),
            "resident_bytes": list(self.resident_bytes), "needed_bytes": self.needed_bytes,
            "tile_bytes": self.tile_bytes, "file_bytes": self.file_bytes,
            "read_ratio": None if self.read_ratios is None else float(np.median(self.read_ratios)),
            "eviction_effective": self.eviction_effective, "floor_us_per_window": self.floor_us_per_window,
            "floor_s": list(self.floor_s), "floor_reader": self.floor_reader,
            "floor_ratio": None if self.floor_ratios is None else float(np.median(self.floor_ratios)),
        }


def _median_or_none(values: Sequence[int | None]) -> float | None:
    return None if not values or any(v is None for v in values) else float(np.median(values))


def gather_centres(size: int, count: int = GATHER_WINDOWS, radius: int = GATHER_RADIUS,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """In-bounds random centres, the same for every layout (the batched_windows micro-workload's rule)."""
    if size <= 2 * radius:
        raise HarnessUsageError(f"size {size} leaves no in-bounds centre for radius {radius}")
    rng = np.random.default_rng(seed)
    return rng.integers(radius, size - radius, count), rng.integers(radius, size - radius, count)


def build_dense_grid(directory: Path, size: int, layout: str, *, value: float = 1.0) -> tuple[Path, Path]:
    """A ``size``-square float32 grid whose every block is on disk, closed with its file kept.

    Returns (manifest, grid file). Every cell is written, so a cold read is a disk read,
    never a hole (holes read as zero pages without I/O).
    """
    spec = FileLayout.named((size, size), layout)
    options: dict[str, Any] = {"layout": spec.layout}
    if spec.layout == "tiles":
        options["tile_size"] = spec.tile
    store = MemmapStore(directory, namespace=f"cold-{layout}", simulation_id=GATHER_RUN, **options)
    try:
        store.create(GRID, (size, size))
        store.fill(GRID, value)
        store.flush()
        path = store.info(GRID).path
        manifest = store.manifest_path
    except BaseException:
        store.close_all(delete_files=True)
        raise
    store.close_all(delete_files=False)
    assert path is not None
    return manifest, path


def _delta(after: tuple[int, int] | None, before: tuple[int, int] | None, index: int) -> int | None:
    return None if after is None or before is None else after[index] - before[index]


def open_read_only(manifest: Path, setting: GatherSetting, backend: str) -> MemmapStore:
    """The grid reopened in place through the registered ``backend`` (memmap, or one built on it)."""
    spec = FileLayout.named((64, 64), setting.layout)
    config = MemmapConfig(backend=backend, directory=str(manifest.parent), mode="r", layout=spec.layout,
                          access=setting.access, prefetch=setting.prefetch)
    return build_store(backend, config, namespace=f"cold-{setting.layout}", simulation_id=GATHER_RUN)  # type: ignore[return-value]


def measure_cold_gather(manifest: Path, path: Path, size: int, setting: GatherSetting, *, trials: int = 3,
                        windows: int = GATHER_WINDOWS, radius: int = GATHER_RADIUS, seed: int = 0,
                        backend: str = "memmap", floor_reader: str | None = None) -> ColdGather:
    """Per trial: evict the file, (with ``floor_reader``) read the gather's pages direct for the
    device's floor, reopen the file read-only through ``backend`` with ``setting``, time one
    gather cold and once warm."""
    if trials < 1:
        raise HarnessUsageError(f"trials must be >= 1, got {trials}")
    ys, xs = gather_centres(size, windows, radius, seed)
    spec = FileLayout.named((size, size), setting.layout)
    pages = spec.pages_of_windows(ys, xs, radius)
    needed = spec.bytes_of(pages)
    tiles = None
    if spec.layout == "tiles":
        tiles = spec.tiles_of_windows(ys, xs, radius) * spec.tile * spec.tile * spec.itemsize
    side = 2 * radius + 1
    out = np.ones((windows, side, side), dtype=np.float32)  # faulted in now, not inside the timing
    cold, warm, inblock, faults, resident, evicted = [], [], [], [], [], True
    floors, reader = [], None
    for _ in range(trials):
        evicted &= procstats.evict_from_page_cache(path)
        if floor_reader is not None:  # direct reads leave the page cache as cold as they found it
            floor = read_floor(path, pages, reader=floor_reader)
            floors.append(floor.seconds)
            reader = floor.reader
        store = open_read_only(manifest, setting, backend)
        try:
            before = procstats.rusage_io()
            start = time.perf_counter()
            store.get_windows(GRID, ys, xs, radius, out=out)
            cold.append(time.perf_counter() - start)
            after = procstats.rusage_io()
            resident.append(procstats.mincore_bytes(path))
            start = time.perf_counter()
            store.get_windows(GRID, ys, xs, radius, out=out)
            warm.append(time.perf_counter() - start)
        finally:
            store.close_all()
        blocks = _delta(after, before, 0)
        inblock.append(None if blocks is None else blocks * BLOCK_BYTES)
        faults.append(_delta(after, before, 1))
    return ColdGather(setting, size, windows, radius, tuple(cold), tuple(warm), tuple(inblock), tuple(faults),
                      tuple(resident), needed, tiles, spec.file_bytes, evicted,
                      floor_us_per_window=float(np.median(floors)) / windows * 1e6 if floors else None,
                      floor_s=tuple(floors), floor_reader=reader)


def gather_floor_us(path: Path, size: int, layout: str, windows: int, radius: int, seed: int = 0) -> float:
    """us/window of reading exactly the gather's pages direct from the device (its floor).

    With fio installed: fio replays those reads, O_DIRECT, as many in flight as the block
    layer allows a prefetch (``queue_depth``). Without it: Python threads at the same depth,
    a looser bound (disk_floor.read_floor).
    """
    ys, xs = gather_centres(size, windows, radius, seed)
    pages = FileLayout.named((size, size), layout).pages_of_windows(ys, xs, radius)
    return read_floor(path, pages).seconds / windows * 1e6


def measure_settings(directory: Path, size: int, settings: Sequence[GatherSetting], *, trials: int = 3,
                     windows: int = GATHER_WINDOWS, seed: int = 0, floor: bool = False,
                     progress: Any = None) -> list[ColdGather]:
    """Each layout's dense grid built once (then removed), every setting of it measured cold;
    with ``floor``, the disk's floor under the layout's pages, read just before each setting, beside it."""
    results: list[ColdGather] = []
    layouts = list(dict.fromkeys(s.layout for s in settings))
    done = 0
    for layout in layouts:
        manifest, path = build_dense_grid(directory, size, layout)
        try:
            for setting in (s for s in settings if s.layout == layout):
                # The device's speed drifts on a shared host: each setting has its floor read just before it.
                floor_us = gather_floor_us(path, size, layout, windows, GATHER_RADIUS, seed) if floor else None
                gather = measure_cold_gather(manifest, path, size, setting, trials=trials, windows=windows, seed=seed)
                results.append(dataclasses.replace(gather, floor_us_per_window=floor_us))
                done += 1
                if progress is not None:
                    progress(done, len(settings), setting.label)
        finally:
            for leftover in (path, manifest, *manifest.parent.glob(manifest.name + "*")):
                Path(leftover).unlink(missing_ok=True)
    return results
