"""A RAM store that repeats every n-th single-window read: a known instruction increase, injected through the store contract.

Importing this module registers two backends (``farm_grids.stores.register_backend``):
``ram-wrapped`` (the wrapper, no repeat: the base) and ``ram-repeat-every-33`` (every 33rd
``get_window`` read twice, on the path that serves single windows: +5.4 % instructions per
``store_windows`` call, as counted; BENCHMARKS.md has the runs). The instruction lane's
self-check counts ``store_windows`` on both (``farm-harness instructions --plugin
harness.workloads.repeating_store --file-backend ...``); no engine code changes.
"""

from __future__ import annotations

from farm_grids.config import MemmapConfig
from farm_grids.stores import GridStore, RamStore, register_backend

WRAPPED = "ram-wrapped"
INJECTED_PERIOD = 33  # chosen by counting, so that the increase is just over 5 %


class RepeatingRamStore(RamStore):
    """RAM grids whose every ``period``-th ``get_window`` is read twice (``None``: never)."""

    def __init__(self, *args: object, period: int | None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.period = period
        self.reads = 0

    def get_window(self, name: str, y0: int, y1: int, x0: int, x1: int, **options: object):  # type: ignore[override]
        self.reads += 1
        if self.period is not None and self.reads % self.period == 0:
            super().get_window(name, y0, y1, x0, x1, **options)  # type: ignore[arg-type]
        return super().get_window(name, y0, y1, x0, x1, **options)  # type: ignore[arg-type]


def repeating_backend(period: int | None) -> str:
    """Register the backend whose stores repeat every ``period``-th window read; its name."""
    name = WRAPPED if period is None else f"ram-repeat-every-{period}"

    def factory(config: MemmapConfig, *, namespace: str, simulation_id: str | None,
                storage_options: object = None) -> GridStore:
        return RepeatingRamStore(namespace=namespace, simulation_id=simulation_id, default_dtype=config.dtype,
                                 layout=config.layout, tile_size=config.tile_size, period=period)

    register_backend(name, factory, replace=True)
    return name


repeating_backend(None)
INJECTED = repeating_backend(INJECTED_PERIOD)
