"""Cold batched gathers from a local zarr world: ZarrStore, tensorstore and zarr's per-chunk calls against fio's floor of the same chunk files.

Run: ``python -m harness.probes.zarr_cold_reads --directory <scratch> [--size 16384] [--trials 3]``.
The grid (random float32, ``chunk``-square chunks, as a ZarrStore writes it) is built once in
the scratch directory and reused. Every trial, for each reader in a shuffled order: the chunk
files the gather needs are dropped from the page cache, then read. fio's O_DIRECT replay of
exactly those files at the same concurrency is the floor; the figures are ratios to it.
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from farm_grids.stores.zarr.chunk_io import DEFAULT_CONCURRENCY, read_chunks
from farm_grids.stores.zarr.store import ZarrStore
from harness.errors import HarnessUsageError
from harness.probes import process_stats
from harness.probes.cold_gather import GATHER_RADIUS, GATHER_WINDOWS, gather_centres

GRID = "GRID"
BUILT_MARKER = "farm-harness-zarr-cold.json"  # written last: a grid without it is rebuilt
PAGE = 4096
READERS = ("floor", "zarrstore", "chunks", "chunks_pipeline", "tensorstore", "zarr_per_chunk")
VALUES = ("random", "constant")


@dataclass(frozen=True)
class ColdWorld:
    """A dense zarr world on disk, the gather's centres and the chunk files they need."""

    location: Path
    size: int
    chunk: int
    ys: np.ndarray
    xs: np.ndarray
    keys: tuple[tuple[int, int], ...]

    def chunk_path(self, key: tuple[int, int]) -> Path:
        return self.location / GRID / "c" / str(key[0]) / str(key[1])

    @property
    def files(self) -> list[Path]:
        return [self.chunk_path(key) for key in self.keys]


def build_world(directory: Path, size: int, chunk: int, *, values: str = "random", seed: int = 0) -> Path:
    """A ``size``-square float32 grid in a ZarrStore group under ``directory`` (reused once built), every
    chunk written: ``random`` values (chunks barely compress, decoding costs) or ``constant`` 1.0 (tiny chunks)."""
    location = directory / f"world-{size}-{chunk}-{values}.zarr"
    marker = directory / f"{location.name}.{BUILT_MARKER}"
    if marker.exists():
        return location
    if location.exists():  # a half-built grid of ours (no marker yet): start again
        shutil.rmtree(location)
    store = ZarrStore(location, chunk=chunk, cache_bytes=64 << 20)
    try:
        store.create(GRID, (size, size))
    finally:
        store.close_all()
    import zarr

    array = zarr.open_array(location / GRID, mode="r+")
    rng = np.random.default_rng(seed)
    band = max(chunk, (32 << 20) // (size * 4) // chunk * chunk)  # rows per write: whole chunks, ~32 MiB
    for y0 in range(0, size, band):
        rows = min(band, size - y0)
        array[y0 : y0 + rows, :] = rng.random((rows, size), dtype=np.float32) if values == "random" else 1.0
    marker.write_text(json.dumps({"size": size, "chunk": chunk, "values": values, "seed": seed}))
    return location


def needed_chunks(size: int, chunk: int, ys: np.ndarray, xs: np.ndarray, radius: int) -> tuple[tuple[int, int], ...]:
    """The chunks the windows at (ys, xs) cover, in row-major order."""
    wanted = np.zeros((-(-size // chunk),) * 2, dtype=bool)
    ly, hy = (ys - radius) // chunk, (ys + radius) // chunk
    lx, hx = (xs - radius) // chunk, (xs + radius) // chunk
    for dy in range(int((hy - ly).max()) + 1):
        for dx in range(int((hx - lx).max()) + 1):
            keep = (ly + dy <= hy) & (lx + dx <= hx)
            wanted[(ly + dy)[keep], (lx + dx)[keep]] = True
    return tuple(zip(*(axis.tolist() for axis in np.nonzero(wanted))))


def evict(world: ColdWorld) -> None:
    for path in [*world.files, world.location / "zarr.json", world.location / GRID / "zarr.json"]:
        process_stats.evict_from_page_cache(path)


def fio_floor(files: list[Path], iodepth: int) -> float:
    """Seconds for fio to read every file whole, O_DIRECT, ``iodepth`` reads in flight (the device's floor)."""
    fio = shutil.which("fio")
    if fio is None:
        raise HarnessUsageError("fio is not installed (apt-get install fio)")
    sizes = [os.stat(path).st_size for path in files]
    with tempfile.NamedTemporaryFile("w", suffix=".iolog") as log:
        log.write("fio version 2 iolog\n")
        log.writelines(f"{path} add\n{path} open\n" for path in files)
        # O_DIRECT reads whole pages: the last one of a file comes back short, as the file ends.
        log.writelines(f"{path} read 0 {-(-size // PAGE) * PAGE}\n" for path, size in zip(files, sizes))
        log.writelines(f"{path} close\n" for path in files)
        log.flush()
        done = subprocess.run([fio, "--output-format=json", "--name=floor", f"--read_iolog={log.name}",
                               "--ioengine=libaio", f"--iodepth={iodepth}", "--direct=1", "--replay_no_stall=1"],
                              capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise HarnessUsageError(f"fio failed ({done.returncode}): {done.stderr.strip()[-300:]}")
    read = json.loads(done.stdout)["jobs"][0]["read"]
    # One read per file (its byte count is not exact for reads cut short at the file's end).
    if read["total_ios"] != len(files) or job_error(done.stdout):
        raise HarnessUsageError(f"fio read {read['total_ios']} of {len(files)} chunk files")
    return read["runtime"] / 1000


def job_error(report: str) -> int:
    return int(json.loads(report)["jobs"][0].get("error", 0))


def zarrstore_gather(world: ColdWorld, concurrency: int) -> tuple[float, float]:
    """(cold, warm) seconds of one ZarrStore batched gather of the world's windows, reopened read-only."""
    store = ZarrStore.open(world.location, mode="r", cache_bytes=1 << 30)
    out = np.ones((world.ys.size, 2 * GATHER_RADIUS + 1, 2 * GATHER_RADIUS + 1), dtype=np.float32)
    try:
        start = time.perf_counter()
        store.get_windows(GRID, world.ys, world.xs, GATHER_RADIUS, out=out)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        store.get_windows(GRID, world.ys, world.xs, GATHER_RADIUS, out=out)
        return cold, time.perf_counter() - start
    finally:
        store.close_all()


def chunk_reads(world: ColdWorld, concurrency: int, *, through_pipeline: bool = False) -> float:
    """Seconds for ZarrStore's chunk I/O (read_chunks) to read every needed chunk into a tile-major buffer."""
    import zarr

    array = zarr.open_array(world.location / GRID, mode="r")
    count = -(-world.size // world.chunk)
    # An anonymous mapping without huge pages, as ZarrStore's chunk mirror: with them, each
    # scattered chunk's first write would zero a 2 MiB page.
    region = mmap.mmap(-1, count * count * world.chunk * world.chunk * 4, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    if hasattr(mmap, "MADV_NOHUGEPAGE"):
        region.madvise(mmap.MADV_NOHUGEPAGE)
    tiles = np.frombuffer(region, dtype=np.float32).reshape(count, count, world.chunk, world.chunk)
    start = time.perf_counter()
    read_chunks(array, world.keys, tiles, concurrency=concurrency, through_pipeline=through_pipeline)
    return time.perf_counter() - start


def tensorstore_reads(world: ColdWorld, concurrency: int) -> float:
    """Seconds for tensorstore to read every needed chunk, all requested at once, ``concurrency`` file reads in flight."""
    import tensorstore as ts

    spec = {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(world.location / GRID) + "/"}}
    context = ts.Context({"cache_pool": {"total_bytes_limit": 0}, "file_io_concurrency": {"limit": concurrency},
                          "data_copy_concurrency": {"limit": os.cpu_count() or 1}})
    array = ts.open(spec, read=True, context=context).result()
    c = world.chunk
    start = time.perf_counter()
    futures = [array[ty * c : (ty + 1) * c, tx * c : (tx + 1) * c].read() for ty, tx in world.keys]
    for future in futures:
        future.result()
    return time.perf_counter() - start


def zarr_per_chunk(world: ColdWorld, concurrency: int) -> float:
    """Seconds for one synchronous zarr call per chunk from 16 threads: ZarrStore's fetch before chunk I/O batching."""
    import zarr

    array = zarr.open_array(world.location / GRID, mode="r")
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(array.get_block_selection, world.keys))
    return time.perf_counter() - start


def measure(world: ColdWorld, *, trials: int, concurrency: int, readers: tuple[str, ...], seed: int = 0,
            progress: Callable[[str], None] | None = None) -> list[dict[str, float | str | int]]:
    """Per trial, each reader once in a shuffled order, each after dropping the chunk files from the page cache."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, float | str | int]] = []
    for trial in range(trials):
        row: dict[str, float | str | int] = {"trial": trial}
        for reader in rng.permutation(list(readers)).tolist():
            evict(world)
            if reader == "floor":
                row["floor_s"] = fio_floor(world.files, concurrency)
            elif reader == "zarrstore":
                row["zarrstore_s"], row["zarrstore_warm_s"] = zarrstore_gather(world, concurrency)
            elif reader in ("chunks", "chunks_pipeline"):
                row[f"{reader}_s"] = chunk_reads(world, concurrency, through_pipeline=reader == "chunks_pipeline")
            elif reader == "tensorstore":
                row["tensorstore_s"] = tensorstore_reads(world, concurrency)
            else:
                row["zarr_per_chunk_s"] = zarr_per_chunk(world, concurrency)
            if progress is not None:
                progress(f"trial {trial + 1}/{trials} {reader} done")
        rows.append(row)
    return rows


def summary(rows: list[dict[str, float | str | int]], windows: int) -> list[str]:
    lines = []
    for key in ("floor_s", "zarrstore_s", "zarrstore_warm_s", "chunks_s", "chunks_pipeline_s", "tensorstore_s",
                "zarr_per_chunk_s"):
        values = [float(row[key]) for row in rows if key in row]
        if values:
            per = [v / windows * 1e6 for v in values]
            line = f"{key[:-2]:16s} us/window {min(per):9.1f} .. {max(per):9.1f}"
            if key != "floor_s" and all("floor_s" in row for row in rows):
                ratios = [float(row[key]) / float(row["floor_s"]) for row in rows if key in row]
                line += f"   / floor {min(ratios):6.2f} .. {max(ratios):6.2f}"
            lines.append(line)
    if rows and all("zarrstore_s" in row and "tensorstore_s" in row for row in rows):
        ratios = [float(row["zarrstore_s"]) / float(row["tensorstore_s"]) for row in rows]
        lines.append(f"zarrstore / tensorstore       {min(ratios):6.2f} .. {max(ratios):6.2f}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.probes.zarr_cold_reads", description=__doc__.splitlines()[0])
    parser.add_argument("--directory", type=Path, required=True, help="scratch directory; the grid is built here once")
    parser.add_argument("--size", type=int, default=16384, help="grid side (default 16384: 1 GiB float32)")
    parser.add_argument("--chunk", type=int, default=64, help="chunk side (default 64)")
    parser.add_argument("--values", choices=VALUES, default="random", help="the grid's values (default random)")
    parser.add_argument("--windows", type=int, default=GATHER_WINDOWS, help=f"windows (default {GATHER_WINDOWS})")
    parser.add_argument("--trials", type=int, default=3, help="trials, each reader once per trial (default 3)")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY,
                        help=f"reads in flight for fio and tensorstore (default {DEFAULT_CONCURRENCY}, ZarrStore's)")
    parser.add_argument("--readers", default=",".join(READERS), help=f"comma-separated subset of {READERS}")
    parser.add_argument("--json", type=Path, help="write the per-trial seconds here")
    args = parser.parse_args(argv)
    readers = tuple(r.strip() for r in args.readers.split(",") if r.strip())
    if not readers or any(r not in READERS for r in readers) or args.trials < 1 or args.windows < 1:
        raise HarnessUsageError(f"need --trials >= 1, --windows >= 1 and --readers from {READERS}")
    args.directory.mkdir(parents=True, exist_ok=True)
    location = build_world(args.directory, args.size, args.chunk, values=args.values)
    ys, xs = gather_centres(args.size, args.windows, GATHER_RADIUS)
    world = ColdWorld(location, args.size, args.chunk, ys, xs, needed_chunks(args.size, args.chunk, ys, xs, GATHER_RADIUS))
    chunk_bytes = sum(os.stat(path).st_size for path in world.files)
    print(f"{len(world.keys)} chunk files, {chunk_bytes / 2**20:.1f} MiB, {args.windows} windows R={GATHER_RADIUS}, "
          f"concurrency {args.concurrency}", flush=True)
    rows = measure(world, trials=args.trials, concurrency=args.concurrency, readers=readers,
                   progress=lambda text: print(text, file=sys.stderr, flush=True))
    print("\n".join(summary(rows, args.windows)))
    if args.json is not None:
        args.json.write_text(json.dumps({"kind": "farm-harness/zarr-cold-reads/v1", "size": args.size, "chunk": args.chunk,
                                         "windows": args.windows, "chunks": len(world.keys), "chunk_bytes": chunk_bytes,
                                         "concurrency": args.concurrency, "trials": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
