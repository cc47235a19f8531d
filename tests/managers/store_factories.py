"""StoreFactory: builds stores of one backend by name, and the config that makes managers build theirs alike."""

from __future__ import annotations

from dataclasses import dataclass

from farm_grids.config import MemmapConfig
from farm_grids.stores import GridStore, build_store

__all__ = ["StoreFactory"]


@dataclass(frozen=True)
class StoreFactory:
    """Builds stores of one backend by name; ``config`` makes managers build theirs the same way."""

    backend: str
    config: MemmapConfig

    def __call__(self, namespace: str) -> GridStore:
        return build_store(self.backend, self.config, namespace=namespace)
