"""Subprocess entry of the memory probe: build one memmap environment, run the workload, print memory as JSON."""

from __future__ import annotations

import argparse
import importlib
import json
import mmap
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness.probes import process_stats as procstats

# Cells written per environmental layer: a sparse subset, so the probe never touches a whole
# grid (a 16384^2 layer is a 1 GiB sparse file) and anonymous memory cannot track the grid.
SPARSE_LAYER_CELLS = 1024
DEFAULT_AGENTS = 1000
DEFAULT_TICKS = 3


def file_backend_name(spec: str | None) -> str:
    """The file backend to probe: a registered name, or ``module:attr`` of a GridStore class
    (a test's faulty store), registered here under that spec since a subprocess starts empty."""
    from farm_grids.stores import register_backend

    if spec is None:
        return "memmap"
    module_name, sep, attr = spec.partition(":")
    if not sep:
        return spec
    if not module_name or not attr:
        raise ValueError(f"--file-backend must be a backend name or 'module:attr', got {spec!r}")
    store_class = getattr(importlib.import_module(module_name), attr)

    def factory(config: Any, *, namespace: str, simulation_id: str | None, storage_options: Any = None) -> Any:
        return store_class(config.resolved_directory(), namespace=namespace, simulation_id=simulation_id,
                           default_dtype=config.dtype)

    register_backend(spec, factory, replace=True)
    return spec


def _sparse_layers(env: Any, rng: np.random.Generator) -> None:
    from farm_grids.managers import ENVIRONMENTAL_LAYERS

    cells = env.height * env.width
    for layer in ENVIRONMENTAL_LAYERS:
        env.environmental.fill(layer, 0.0)  # a zero fill creates the file sparse: no page touched
        ys, xs = np.divmod(rng.choice(cells, size=min(SPARSE_LAYER_CELLS, cells), replace=False), env.width)
        env.environmental.store.add_many(layer, ys, xs, rng.random(ys.size, dtype=np.float32), accumulate=False)


def probe(size: int, directory: Path, *, agents: int, ticks: int, file_backend: str = "memmap",
          layout: str = "rows", tile_size: int = 32) -> dict[str, Any]:
    """Build a memmap environment of size x size in ``directory``, run the workload, measure memory.

    Every store operation is recorded (harness.probes.store_recorder) so the pages the work needed
    can be set against the file pages resident afterwards (criterion C9).
    """
    from farm_grids.sim import WorkloadDriver
    from harness.probes.store_recorder import StoreRecorder
    from harness.workloads.base import WorkloadParams, WorldOwner
    from harness.workloads.catalog import build_environment, simulation_config

    params = WorkloadParams(backend="memmap", size=size, directory=directory, agents=agents,
                            file_backend=file_backend, layout=layout, tile_size=tile_size)
    holder = WorldOwner(params)
    env = build_environment(simulation_config(params))
    holder.env = env
    recorder = StoreRecorder()
    try:
        for manager in env.managers:
            recorder.attach(manager.store)
        _sparse_layers(env, np.random.default_rng(size))
        driver = WorkloadDriver(env, agents, teams=2, seed=0)
        driver.run(ticks)
        batch = env.observe_all()
        env.flush()
        record = _measure(env, tuple(batch.shape))
        record.update(_footprint(env, recorder))
        return record
    finally:
        holder.close()


def _footprint(env: Any, recorder: Any) -> dict[str, Any]:
    """Bytes the recorded work needed in each file-backed grid's layout, against what is resident."""
    from harness.probes.footprint import FileLayout

    needed = resident = untracked = 0
    for manager in env.managers:
        store = manager.store
        for name in manager.names():
            info = store.info(name)
            if info.path is None:
                continue
            layout = "rows" if getattr(store, "layout", "rows") == "rows" else "tiles"
            spec = FileLayout(tuple(info.shape), np.dtype(info.dtype).itemsize, layout,
                              int(getattr(store, "tile_size", 0)) if layout == "tiles" else 0)
            needed += spec.bytes_of(recorder.needed_pages(store, name, spec))
            cached = procstats.mincore_bytes(info.path)
            resident = None if cached is None or resident is None else resident + cached
            untracked += recorder.touches(store, name).untracked
    store = env.managers[0].store
    return {
        "layout": "rows" if getattr(store, "layout", "rows") == "rows" else f"tiles{getattr(store, 'tile_size', 0)}",
        "needed_bytes": needed,
        "resident_file_bytes": resident,
        "untracked_calls": untracked,
    }


def _measure(env: Any, batch_shape: tuple[int, ...]) -> dict[str, Any]:
    rollup = procstats.read_smaps_rollup() or {}
    status = procstats.read_status() or {}
    infos = [manager.store.info(name) for manager in env.managers for name in manager.names()]
    paths = [info.path for info in infos if info.path is not None]
    mapped = [procstats.mapping_rss_bytes(path) for path in paths]
    allocated = [procstats.file_allocated_bytes(path) for path in paths]
    return {
        "size": env.height,
        "grid_bytes": sum(info.nbytes for info in infos),
        "grids": len(infos),
        "file_backed_grids": len(paths),
        "pss_anon_bytes": rollup.get("Pss_Anon"),
        "rss_anon_bytes": status.get("RssAnon"),
        "rss_file_bytes": status.get("RssFile"),
        "file_bytes": sum(path.stat().st_size for path in paths if path.exists()),
        "file_blocks_bytes": None if None in allocated else sum(a for a in allocated if a is not None),
        "pages_touched": None if None in mapped else sum(m for m in mapped if m is not None) // mmap.PAGESIZE,
        "proc_available": bool(rollup or status),
        "batch_shape": list(batch_shape),
    }


def _cap_memory(gib: float) -> None:
    """Cap the heap (RLIMIT_DATA: anonymous memory, not file mappings) so a runaway probe fails fast."""
    try:
        import resource
    except ImportError:
        return
    limit = int(gib * 1024**3)
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard == resource.RLIM_INFINITY or limit < hard:
        resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.probes.memory_child", description=__doc__)
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--directory", type=Path, required=True)
    parser.add_argument("--agents", type=int, default=DEFAULT_AGENTS)
    parser.add_argument("--ticks", type=int, default=DEFAULT_TICKS)
    parser.add_argument("--file-backend", help="a registered backend name, or module:attr of a store class (tests)")
    parser.add_argument("--layout", default="rows", choices=("rows", "tiles"))
    parser.add_argument("--tile-size", type=int, default=32)
    parser.add_argument("--max-memory-gib", type=float, default=8.0,
                        help="heap cap (RLIMIT_DATA, file mappings excluded) so a bug cannot eat the machine")
    args = parser.parse_args(argv)
    _cap_memory(args.max_memory_gib)
    record = probe(args.size, args.directory, agents=args.agents, ticks=args.ticks,
                   file_backend=file_backend_name(args.file_backend), layout=args.layout, tile_size=args.tile_size)
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
