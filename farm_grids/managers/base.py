"""GridManager: the behaviour every grid manager shares, written once over one composed GridStore."""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

import numpy as np

from farm_grids.config import MemmapConfig
from farm_grids.errors import GridNotFoundError, InvalidGridSpecError, StoreClosedError
from farm_grids.stores import GridStore, build_store
from farm_grids.windows import WindowPlan, read_window, read_windows

__all__ = ["GridManager", "make_store", "resolve_store", "validate_dimension"]

# Windows of a grid that does not exist yet read as zeros: gathering them from one zero
# cell reuses the window kernels' argument checks and edge padding unchanged.
_ZERO_CELL = np.zeros((1, 1), dtype=np.float32)
_ZERO_CELL.flags.writeable = False


def make_store(
    use_memmap: bool,
    memmap_config: MemmapConfig | None,
    *,
    namespace: str,
    simulation_id: str | None,
    storage_options: object = None,
) -> GridStore:
    """The store a manager composes: the configured file backend when asked (errors propagate), else RAM.

    Both use the config's dtype so RAM and file-backed results are bitwise comparable.
    ``storage_options`` (endpoint, credentials) go to the file backend, never into the config.
    """
    config = memmap_config if memmap_config is not None else MemmapConfig()
    # No try/except on purpose: a file-backend set-up failure must never become a RAM store.
    if not use_memmap:
        return build_store("ram", config, namespace=namespace, simulation_id=simulation_id)
    return build_store(config.backend, config, namespace=namespace, simulation_id=simulation_id,
                       storage_options=storage_options)


def resolve_store(
    store: GridStore | None,
    memmap_config: MemmapConfig | None,
    use_flag: str,
    *,
    namespace: str,
    simulation_id: str | None,
    float_for: str | None = None,
    storage_options: object = None,
) -> tuple[GridStore, bool]:
    """The store a manager composes and whether the manager owns it.

    A caller's store is used as-is (third backends, fault injection); otherwise one is made
    per ``memmap_config.<use_flag>``. ``float_for`` names what needs a float dtype.
    """
    if store is not None:
        if float_for is not None and isinstance(store, GridStore) and store.default_dtype.kind != "f":
            raise InvalidGridSpecError(f"{float_for} need a float dtype, the store's is {store.default_dtype}")
        return store, False
    use_memmap = getattr(memmap_config, use_flag) if memmap_config is not None else False
    store = make_store(use_memmap, memmap_config, namespace=namespace, simulation_id=simulation_id,
                       storage_options=storage_options)
    return store, True


def validate_dimension(value: object, label: str) -> int:
    """A positive integer grid dimension, or InvalidGridSpecError naming ``label``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value <= 0:
        raise InvalidGridSpecError(f"{label} must be a positive integer, got {value!r}")
    return int(value)


class GridManager:
    """Named grids of one shape in ONE store; never branches on which backend the store is.

    Subclasses decide which names are known (``_known``) and create grids through
    ``_create_grid``; everything else (windows, sizes, files, flush, close) lives here.
    """

    kind = "grid"  # word used in error messages ("layer", "channel", ...)

    def __init__(
        self,
        height: int,
        width: int,
        *,
        store: GridStore,
        owns_store: bool,
        known_names: Iterable[str],
    ) -> None:
        if not isinstance(store, GridStore):
            raise InvalidGridSpecError(f"store must be a GridStore, got {type(store).__name__}")
        self.height = validate_dimension(height, "height")
        self.width = validate_dimension(width, "width")
        self.store = store
        self._owns_store = owns_store
        self._known: tuple[str, ...] = tuple(known_names)
        # Paths are remembered at creation so files() still answers after close().
        self._paths: dict[str, Path] = {}
        self._closed = False

    # -- names --------------------------------------------------------------------------
    @property
    def has_memmap(self) -> bool:
        """True when the composed store keeps its grids in files (reported, never branched on)."""
        return self.store.file_backed

    @property
    def closed(self) -> bool:
        return self._closed

    def names(self) -> list[str]:
        """Grids of this manager that currently exist in the store, in declaration order."""
        if self._closed:
            return []
        return [name for name in self._known if name in self.store]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.names()

    def _require_known(self, name: object) -> str:
        self._check_open()
        if not isinstance(name, str) or name not in self._known:
            known = ", ".join(self._known) or "none"
            raise GridNotFoundError(f"unknown {self.kind} {name!r} (known: {known})")
        return name

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError(f"this {type(self).__name__} is closed")

    # -- creation -----------------------------------------------------------------------
    def _create_grid(self, name: str, *, fill: float = 0.0) -> None:
        """Create ``name`` in the store (or adopt a same-shaped grid already there)."""
        if name in self.store:
            shape = self.store.info(name).shape
            if shape != (self.height, self.width):
                raise InvalidGridSpecError(
                    f"store already holds {name!r} with shape {shape}, "
                    f"expected {(self.height, self.width)}"
                )
        else:
            self.store.create(name, (self.height, self.width), fill=fill)
        path = self.store.info(name).path
        if path is not None:
            self._paths[name] = path

    # -- sizes, files, lifecycle ----------------------------------------------------------
    def total_size_bytes(self) -> int:
        return sum(self.store.info(name).nbytes for name in self.names())

    def files(self) -> list[Path]:
        """Paths of the grid files this manager created (empty for RAM)."""
        return list(self._paths.values())

    @property
    def manifest_path(self) -> Path | None:
        """The manifest a later run can reopen the files with (None for stores without one)."""
        if not self._paths or not self.store.supports_reopen:
            return None
        return self.store.manifest_path

    def flush(self) -> None:
        """Make this manager's writes durable (a no-op for RAM)."""
        for name in self.names():
            self.store.flush(name)

    def close(self, *, delete_files: bool = False) -> None:
        """Flush and release this manager's grids (and the store if the manager made it); idempotent."""
        if self._closed:
            return
        self._closed = True
        if not self.store.closed:
            for name in self._known:
                if name in self.store:
                    self.store.close(name, delete_file=delete_files)
            if self._owns_store:
                self.store.close_all(delete_files=delete_files)
        if delete_files:
            self._paths.clear()

    def __enter__(self) -> GridManager:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- reads ----------------------------------------------------------------------------
    def get_window(
        self, name: str, y0: int, y1: int, x0: int, x1: int, *, normalize_by: float | None = None
    ) -> np.ndarray:
        """A fresh float32 copy of ``[y0:y1, x0:x1]``; outside cells (and unset grids) read zero."""
        self._require_known(name)
        if name not in self.store:
            return read_window(_ZERO_CELL, y0, y1, x0, x1, normalize_by=normalize_by)
        return self.store.get_window(name, y0, y1, x0, x1, normalize_by=normalize_by)

    def get_windows(
        self,
        name: str,
        ys: object,
        xs: object,
        radius: int,
        *,
        normalize_by: float | None = None,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """``(N, 2r+1, 2r+1)`` float32 windows centred on each ``(ys[i], xs[i])``."""
        self._require_known(name)
        if name not in self.store:
            # Every window of the zero cell is padding: zeros, with the same argument checks.
            return read_windows(_ZERO_CELL, ys, xs, radius, normalize_by=normalize_by, out=out)
        return self.store.get_windows(name, ys, xs, radius, normalize_by=normalize_by, out=out)

    def get_planned_windows(
        self,
        name: str,
        plan: WindowPlan,
        *,
        normalize_by: float | None = None,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """``get_windows`` with centres planned once (shared by every layer of one pass)."""
        self._require_known(name)
        if name not in self.store:
            zeros = np.zeros((plan.count, plan.side, plan.side), dtype=np.float32)
            if out is None:
                return zeros
            out[...] = zeros
            return out
        return self.store.get_planned_windows(name, plan, normalize_by=normalize_by, out=out)

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self.names())} grids"
        return f"{type(self).__name__}({self.height}x{self.width}, {self.store.backend}, {state})"

