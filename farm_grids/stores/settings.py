"""StoreSettings: the storage settings a backend factory reads (the config's storage block satisfies it)."""

from __future__ import annotations

import pathlib
from typing import Protocol

__all__ = ["StoreSettings"]


class StoreSettings(Protocol):
    """What a backend factory may read to build a store: ``farm_grids.config.StorageConfig`` is one.

    A protocol, so the stores need not import the config (which imports the registry to
    check a backend name) and a third-party backend can be built from any object with
    these attributes.
    """

    @property
    def directory(self) -> str | None: ...
    @property
    def dtype(self) -> str: ...
    @property
    def mode(self) -> str: ...
    @property
    def preallocate(self) -> bool: ...
    @property
    def layout(self) -> str: ...
    @property
    def tile_size(self) -> int: ...
    @property
    def access(self) -> str: ...
    @property
    def prefetch(self) -> bool: ...

    def resolved_directory(self) -> pathlib.Path:
        """The directory file backends write in (the system temp dir when ``directory`` is unset)."""
        ...
