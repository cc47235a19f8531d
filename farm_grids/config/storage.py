"""StorageConfig: where and how grids are stored, and which managers use that storage (alias MemmapConfig)."""

from __future__ import annotations

import pathlib
import tempfile
from dataclasses import dataclass

from farm_grids.config.fields import ConfigBlock, require, require_choice
from farm_grids.errors import ConfigFieldError
from farm_grids.names import path_problem
from farm_grids.stores.registry import backend_names

__all__ = ["ACCESS_MODES", "FLUSH_POLICIES", "LAYOUTS", "MEMMAP_DTYPES", "MEMMAP_MODES", "MemmapConfig",
           "StorageConfig"]

MEMMAP_DTYPES = ("float16", "float32", "float64")
MEMMAP_MODES = ("w+", "r+", "r")
FLUSH_POLICIES = ("close", "tick", "manual")
LAYOUTS = ("rows", "tiles")
ACCESS_MODES = ("auto", "random", "normal")


@dataclass(frozen=True)
class StorageConfig(ConfigBlock):
    """Where and how grids are stored on file, and which managers use that storage.

    ``backend`` names the backend the ``use_for_*`` toggles switch on (``"memmap"``,
    ``"zarr"``, or any name given to ``farm_grids.stores.register_backend`` or the
    ``farm_grids.backends`` entry points); managers left off use RAM. ``layout`` ("rows" or
    "tiles", with ``tile_size``) applies to RAM and memmap grids alike, so same-layout
    comparisons mean something; ``access`` and ``prefetch`` tune memmap reads (MemmapStore).
    Its key in a config is ``memmap:`` (or ``storage:``); ``MemmapConfig`` is the same class.
    """

    directory: str | None = None
    dtype: str = "float32"
    mode: str = "w+"
    delete_on_close: bool = False
    use_for_resources: bool = False
    use_for_environmental: bool = False
    use_for_temporal: bool = False
    flush_policy: str = "close"
    preallocate: bool = False
    backend: str = "memmap"
    layout: str = "rows"
    tile_size: int = 32
    access: str = "auto"
    prefetch: bool = True

    def _validate(self) -> None:
        if self.directory is not None:
            require(self.directory.strip() != "", "directory", "a non-empty path or null", self.directory)
            problem = path_problem(self.directory)
            if problem is not None:
                raise ConfigFieldError("directory", f"{self.directory[:80]!r} {problem}")
        require_choice("dtype", self.dtype, MEMMAP_DTYPES)
        require_choice("mode", self.mode, MEMMAP_MODES)
        require_choice("flush_policy", self.flush_policy, FLUSH_POLICIES)
        require_choice("layout", self.layout, LAYOUTS)
        require(8 <= self.tile_size <= 4096 and self.tile_size & (self.tile_size - 1) == 0, "tile_size",
                 "a power of two from 8 to 4096", self.tile_size)
        require_choice("access", self.access, ACCESS_MODES)
        names = backend_names()
        require(self.backend in names, "backend", f"a registered backend ({', '.join(names)})", self.backend)

    def resolved_directory(self) -> pathlib.Path:
        """The directory memmap files live in (the system temp dir when unset); not created here."""
        return pathlib.Path(tempfile.gettempdir() if self.directory is None else self.directory).expanduser()

    @property
    def any_enabled(self) -> bool:
        """True when at least one manager is configured to use memmapped storage."""
        return self.use_for_resources or self.use_for_environmental or self.use_for_temporal


# The first name of StorageConfig, from when memmap was the only file backend: AgentFarm
# configs and code use it, so it stays the same class (isinstance and equality agree).
MemmapConfig = StorageConfig
