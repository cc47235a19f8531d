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

from harness import procstats

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


def probe(size: int, directory: Path, *, agents: int, ticks: int, file_backend: str = "memmap") -> dict[str, Any]:
    """Build a memmap environment of size x size in ``directory``, run the workload, measure memory."""
    from farm_grids.sim import WorkloadDriver
    from harness.workload_base import WorkloadParams, WorldOwner
    from harness.workloads import build_environment, simulation_config

    params = WorkloadParams(backend="memmap", size=size, directory=directory, agents=agents,
                            file_backend=file_backend)
    holder = WorldOwner(params)
    env = build_environment(simulation_config(params))
    holder.env = env
    try:
        _sparse_layers(env, np.random.default_rng(size))
        driver = WorkloadDriver(env, agents, teams=2, seed=0)
        driver.run(ticks)
        batch = env.observe_all()
        env.flush()
        return _measure(env, tuple(batch.shape))
    finally:
        holder.close()


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.memory_probe", description=__doc__)
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--directory", type=Path, required=True)
    parser.add_argument("--agents", type=int, default=DEFAULT_AGENTS)
    parser.add_argument("--ticks", type=int, default=DEFAULT_TICKS)
    parser.add_argument("--file-backend", help="a registered backend name, or module:attr of a store class (tests)")
    args = parser.parse_args(argv)
    record = probe(args.size, args.directory, agents=args.agents, ticks=args.ticks,
                   file_backend=file_backend_name(args.file_backend))
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
