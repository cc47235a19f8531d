"""A nested config mapping the config tests share."""

from __future__ import annotations

NESTED = {
    "width": 64,
    "height": 32,
    "seed": 7,
    "simulation_id": "run-1",
    "memmap": {"directory": "/data/grids", "dtype": "float64", "mode": "r+",
               "use_for_temporal": True, "flush_policy": "tick"},
    "observation": {"radius": 4, "gamma_dmg": 1},
    "resources": {"distribution": "clustered", "clusters": 3},
}
