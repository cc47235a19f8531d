"""Which checks apply to a file backend: a chunked one (no dense mapped array) skips the mapping checks, with the reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from farm_grids.config import MemmapConfig
from farm_grids.stores import backend_names, build_store
from harness.acceptance.file_backing import has_dense_arrays

DEFAULT_BACKEND = "memmap"
REFERENCE_BACKEND = "ram"  # the side every ratio divides by: never the backend under test
COLD_ROWS = "C4 cold rows"  # not a criterion of its own: the cold-cache rows inside C4


def file_backend_choices() -> list[str]:
    """Every registered backend but the RAM reference."""
    return [name for name in backend_names() if name != REFERENCE_BACKEND]


@dataclass(frozen=True)
class BackendScope:
    """The backend a run measures and what does not apply to it (check id -> reason)."""

    backend: str = DEFAULT_BACKEND
    not_applicable: dict[str, str] = field(default_factory=dict)

    def applies(self, check: str) -> bool:
        return check not in self.not_applicable


def _hands_out_dense_arrays(backend: str, directory: Path) -> bool:
    """Ask the backend itself: create a small grid and see whether get() gives its array."""
    store = build_store(backend, MemmapConfig(backend=backend, directory=str(directory)), namespace="scope")
    try:
        store.create("PROBE", (8, 8))
        return has_dense_arrays(store)
    finally:
        store.close_all(delete_files=True)


def backend_scope(backend: str, scratch: Path) -> BackendScope:
    """What applies to ``backend``; measured by asking it, never looked up by its name."""
    try:
        dense = backend == DEFAULT_BACKEND or _hands_out_dense_arrays(backend, scratch)
    except Exception:  # a backend that cannot even build: every check runs and names the error
        dense = True
    if dense:
        return BackendScope(backend)
    chunked = f"the {backend} backend keeps grids in chunks, not in one memory-mapped array per grid"
    return BackendScope(backend, {
        "C1": f"{chunked}; C1 checks that each grid is a mapping of its own file",
        COLD_ROWS: f"{chunked}; cold rows evict mapped files from the page cache, while a chunked store "
                   "reads chunks into its own cache (its cold first tick: farm-harness objectstore)",
        "C6": f"{chunked}; its cache of chunks lives in process memory by design, bounded by its budget, "
              "so anonymous memory that follows the world is not a leak here; C6 judges mapped worlds",
        "C9": f"{chunked}; C9 judges the page cache's hold on mapped files (resident and cold-read bytes "
              "against the pages a layout needs), while a chunked store reads whole chunks into its own cache",
    })
