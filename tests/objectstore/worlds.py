"""The small seeded world every snapshot test drives, and its reference run (shared with child processes)."""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np

from farm_grids import SimulationConfig
from farm_grids.environment import Environment
from farm_grids.sim import WorkloadDriver

SHAPE = (48, 64)
AGENTS = 30


def config(backend: str, directory: str | None = None) -> SimulationConfig:
    """RAM, or every manager on ``backend`` under ``directory`` (a path or an s3:// URL)."""
    base = SimulationConfig(height=SHAPE[0], width=SHAPE[1], seed=3, simulation_id="snap")
    if backend == "ram":
        return base
    return base.with_overrides({
        "memmap.backend": backend, "memmap.directory": directory, "memmap.use_for_environmental": True,
        "memmap.use_for_temporal": True, "memmap.use_for_resources": True, "memmap.delete_on_close": True,
    })


def build(cfg: SimulationConfig, storage_options: Any = None) -> tuple[Environment, WorkloadDriver]:
    env = Environment(cfg, storage_options=storage_options)
    rng = np.random.default_rng(7)
    for layer in ("OBSTACLES", "TERRAIN_COST", "VISIBILITY"):
        env.set_environmental_layer(layer, rng.random(SHAPE, dtype=np.float32))
    return env, WorkloadDriver(env, AGENTS, seed=5)


def layers(env: Environment) -> dict[str, np.ndarray]:
    """Every grid of every manager, as dense copies."""
    return {f"{m.store.backend}:{name}": m.store.read(name) for m in env.managers for name in m.names()}


def fingerprint(env: Environment) -> dict[str, bytes]:
    """Everything a snapshot saves, as bytes (dtype and shape included): equal means bitwise the same world."""
    def raw(array: np.ndarray) -> bytes:
        array = np.asarray(array)
        return f"{array.dtype.str}{array.shape}".encode() + np.ascontiguousarray(array).tobytes()

    found = {f"layer:{key}": raw(value) for key, value in layers(env).items()}
    found |= {f"agents:{key}": raw(value) for key, value in env.agents.export_state().items()}
    found |= {f"memory:{key}": raw(value) for key, value in env.memory_state().items()}
    found |= {f"resources:{key}": raw(value) for key, value in env.resources.export_state().items()}
    for channel, layer in env.sparse_events.items():
        found[f"sparse:{channel}"] = raw(layer.cells.astype(np.int64)) + raw(layer.values)
    if env.temporal is not None:
        state = env.temporal.export_state()
        found["temporal"] = json.dumps([state["gammas"], state["has_data"]], sort_keys=True).encode()
        found |= {f"tiles:{key}": raw(mask) for key, mask in state["tiles"].items()}  # type: ignore[union-attr]
    found["tick"] = str(env.tick).encode()
    found["rng"] = json.dumps(env.rng.bit_generator.state, sort_keys=True, default=str).encode()
    return found


def reference(ticks: int) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    """Observations of ``ticks`` uninterrupted RAM ticks, and the layers at the end."""
    env, driver = build(config("ram"))
    with env:
        observed = []
        for _ in range(ticks):
            driver.step()
            observed.append(env.observe_all().numpy().copy())
        return observed, {key.split(":", 1)[1]: value for key, value in layers(env).items()}


if __name__ == "__main__":
    # Child: restore argv[1] onto backend argv[2] (directory argv[3]), run argv[4] ticks,
    # save every observation and the final layers to argv[5].
    url, backend, directory, ticks, out = sys.argv[1:6]
    options = json.loads(sys.argv[6]) if len(sys.argv) > 6 else None
    env = Environment.restore(url, backend=backend, directory=directory or None, storage_options=options)
    with env:
        driver = WorkloadDriver.resume(env)
        observed = []
        for _ in range(int(ticks)):
            driver.step()
            observed.append(env.observe_all().numpy().copy())
        final = {key.split(":", 1)[1]: value for key, value in layers(env).items()}
        np.savez(out, observations=np.stack(observed), tick=env.tick,
                 **{f"layer_{name}": value for name, value in final.items()})
