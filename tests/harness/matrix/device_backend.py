"""A Dask worker preload: the backend "device-under-test" is plain memmap, or twelve times slower on a
worker whose machine type is "slow-disk" (two machine types on one host, for the placement test)."""

from __future__ import annotations

import os

from farm_grids.config import MemmapConfig
from farm_grids.stores import GridStore, MemmapStore, register_backend
from harness.matrix.fingerprint import MACHINE_TYPE_ENV

from .slow_store import TwelveFoldSlowStore

DEVICE_BACKEND = "device-under-test"
SLOW_MACHINE = "slow-disk"


def register_device_backend(slow: bool) -> str:
    store_class = TwelveFoldSlowStore if slow else MemmapStore

    def factory(config: MemmapConfig, *, namespace: str, simulation_id: str | None,
                storage_options: object = None) -> GridStore:
        return store_class(config.resolved_directory(), namespace=namespace, simulation_id=simulation_id,
                           default_dtype=config.dtype)

    register_backend(DEVICE_BACKEND, factory, replace=True)
    return DEVICE_BACKEND


def dask_setup(worker: object) -> None:
    """Called by `dask worker --preload` before the worker takes tasks."""
    register_device_backend(slow=os.environ.get(MACHINE_TYPE_ENV) == SLOW_MACHINE)
