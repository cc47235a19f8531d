"""Two processes share one read-only world on the S3 server; each fetches only the chunks its windows cover."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from farm_grids.stores.zarr.store import ZarrStore

from .s3server import CountingS3Server

SIZE, CHUNK, RADIUS = 512, 64, 6

WORKER = """
import json, sys
import numpy as np
from farm_grids import SimulationConfig
from farm_grids.environment import Environment
from farm_grids.sim import WorkloadDriver
url, options, y0, x0 = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
cfg = SimulationConfig(height=512, width=512, seed=1, simulation_id="w").with_overrides({
    "memmap.backend": "zarr", "memmap.directory": url, "memmap.mode": "r", "memmap.use_for_environmental": True})
with Environment(cfg, storage_options=options) as env:
    rng = np.random.default_rng(y0 + x0)
    ys, xs = rng.integers(y0, y0 + 40, 25), rng.integers(x0, x0 + 40, 25)
    env.add_agents(ys, xs, team=0)
    driver = WorkloadDriver.resume(env)   # its own simulation: RAM trails and resources, shared layers
    visited = []
    for _ in range(5):
        visited.append(np.stack([env.agents.ys.copy(), env.agents.xs.copy()]))
        env.observe_all()
        driver.step()
    print(json.dumps(np.concatenate(visited, axis=1).tolist()))
"""


def _chunks_covered(positions: np.ndarray) -> set[str]:
    """Chunk keys (zarr v3 ``c/<cy>/<cx>``) the R-windows around ``positions`` touch, by hand."""
    keys = set()
    for y, x in positions.T.tolist():
        for cy in range(max(y - RADIUS, 0) // CHUNK, min(y + RADIUS, SIZE - 1) // CHUNK + 1):
            for cx in range(max(x - RADIUS, 0) // CHUNK, min(x + RADIUS, SIZE - 1) // CHUNK + 1):
                keys.add(f"c/{cy}/{cx}")
    return keys


def test_two_workers_fetch_only_the_chunks_their_agents_see(s3_server: CountingS3Server, bucket: str) -> None:
    url = f"s3://{bucket}/world"
    rng = np.random.default_rng(0)
    layers = {name: rng.random((SIZE, SIZE), dtype=np.float32) for name in ("OBSTACLES", "TERRAIN_COST")}
    with ZarrStore(f"{url}/env_w.zarr", storage_options=s3_server.storage_options("writer"), chunk=CHUNK) as world:
        for name, values in layers.items():
            world.create(name, (SIZE, SIZE))
            world.write(name, values)
    env_vars = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    corners = {"north-west": (20, 20), "south-east": (440, 430)}
    workers = {
        tag: subprocess.Popen([sys.executable, "-c", WORKER, url, json.dumps(s3_server.storage_options(tag)),
                               str(y0), str(x0)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env_vars)
        for tag, (y0, x0) in corners.items()
    }
    visited = {}
    for tag, worker in workers.items():  # both run at once, each its own simulation
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
        visited[tag] = np.array(json.loads(out.splitlines()[-1]))
    total_chunks = (SIZE // CHUNK) ** 2
    for tag in corners:
        expected = _chunks_covered(visited[tag])
        for name in layers:
            gets = s3_server.log.gets(tag, f"/{bucket}/world/env_w.zarr/{name}/c/")
            fetched = {path.split(f"/{name}/", 1)[1] for path in gets}
            assert fetched == expected, (tag, name, sorted(fetched ^ expected))
            assert all(count == 1 for count in gets.values()), "a cached chunk was fetched twice"
            assert len(fetched) < total_chunks / 4  # a corner of the world, not the world
            sent = s3_server.log.get_bytes(tag, f"/{bucket}/world/env_w.zarr/{name}/c/")
            assert 0 < sent < 0.5 * SIZE * SIZE * 4
    assert not (_chunks_covered(visited["north-west"]) & _chunks_covered(visited["south-east"]))
