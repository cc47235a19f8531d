"""ResourceManager: a resource grid with seeded placement, vectorised consumption and capped regrowth."""

from __future__ import annotations

import numbers

import numpy as np

from farm_grids.config import MemmapConfig, ResourceConfig
from farm_grids.errors import InvalidGridSpecError, ReadOnlyGridError
from farm_grids.managers.base import GridManager, resolve_store, validate_dimension
from farm_grids.stores import GridStore
from farm_grids.values import checked_values
from farm_grids.windows import validate_centres

__all__ = ["ResourceManager"]


def _validate_seed(seed: object) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise InvalidGridSpecError(f"seed must be a non-negative integer or None, got {seed!r}")
    return int(seed)


def place_sites(rng: np.random.Generator, height: int, width: int, config: ResourceConfig) -> np.ndarray:
    """Sorted distinct flat indices of resource sites: ``config.count`` draws, uniform or clustered.

    Clustered draws that land on the same cell merge, so a clustered world may hold fewer sites.
    """
    cells = height * width
    if config.count == 0:
        return np.empty(0, dtype=np.int64)
    if config.distribution == "uniform":
        return np.sort(rng.choice(cells, size=min(config.count, cells), replace=False)).astype(np.int64)
    centre_ys = rng.integers(0, height, size=config.clusters)
    centre_xs = rng.integers(0, width, size=config.clusters)
    which = rng.integers(0, config.clusters, size=config.count)
    offsets = rng.normal(0.0, config.cluster_spread, size=(2, config.count))
    ys = np.clip(np.rint(centre_ys[which] + offsets[0]), 0, height - 1).astype(np.int64)
    xs = np.clip(np.rint(centre_xs[which] + offsets[1]), 0, width - 1).astype(np.int64)
    return np.unique(ys * width + xs)


class ResourceManager(GridManager):
    """Resource amounts in the ``resources`` namespace, updated incrementally.

    Only resource sites hold resources. The manager tracks the sites below their cap
    (``max_amount``): ``regrow`` touches only those, ``consume`` adds the cells it drained,
    so a tick never rebuilds or scans the whole grid.
    """

    GRID = "RESOURCES"

    def __init__(
        self,
        height: int,
        width: int,
        *,
        resource_config: ResourceConfig | None = None,
        memmap_config: MemmapConfig | None = None,
        simulation_id: str | None = None,
        seed: int | None = 0,
        store: GridStore | None = None,
        storage_options: object = None,
    ) -> None:
        self.config = resource_config if resource_config is not None else ResourceConfig()
        self.seed = _validate_seed(seed)
        validate_dimension(height, "height")
        validate_dimension(width, "width")
        store, owns_store = resolve_store(
            store, memmap_config, "use_for_resources", namespace="resources", simulation_id=simulation_id, storage_options=storage_options,
            float_for="resources",
        )
        super().__init__(height, width, store=store, owns_store=owns_store, known_names=(self.GRID,))
        adopted = self.GRID in store
        self._create_grid(self.GRID)
        dtype = np.dtype(store.info(self.GRID).dtype)
        self._cap = dtype.type(self.config.max_amount)
        self._regen = dtype.type(self.config.regen_rate)
        if adopted:
            # A reopened grid: its non-empty cells are the sites (fully drained ones are lost).
            flat = store.read(self.GRID).reshape(-1)
            self._sites = np.flatnonzero(flat > 0).astype(np.int64)
            self._below = self._sites[flat[self._sites] < self._cap]
        else:
            self._sites = np.empty(0, dtype=np.int64)
            self._below = np.empty(0, dtype=np.int64)
            self._place()

    @property
    def max_amount(self) -> float:
        return float(self.config.max_amount)

    @property
    def site_count(self) -> int:
        return int(self._sites.size)

    @property
    def below_cap_count(self) -> int:
        """How many sites ``regrow`` will touch on the next tick."""
        return int(self._below.size)

    def _place(self) -> None:
        rng = np.random.default_rng(self.seed)
        self._sites = place_sites(rng, self.height, self.width, self.config)
        # Only the site cells are written: a new memmap file stays sparse elsewhere.
        self._set_cells(self._sites, self._cap)
        self._below = np.empty(0, dtype=np.int64)

    def _cells(self, flat: np.ndarray) -> np.ndarray:
        ys, xs = np.divmod(flat, self.width)
        return self.store.get_cells(self.GRID, ys, xs)

    def _set_cells(self, flat: np.ndarray, values: object) -> None:
        ys, xs = np.divmod(flat, self.width)
        self.store.add_many(self.GRID, ys, xs, values, accumulate=False)

    def reset(self) -> None:
        """Re-seed the initial placement (the same seed gives the same grid)."""
        self._check_writable()
        self._set_cells(self._sites, 0.0)
        self._place()

    def export_state(self) -> dict[str, np.ndarray]:
        """The site bookkeeping regrowth needs besides the grid (sites, and those below the cap)."""
        return {"sites": self._sites.copy(), "below": self._below.copy()}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore ``export_state``'s output (after the grid itself was written)."""
        self._check_open()
        cells = self.height * self.width
        sites, below = (np.asarray(state[key], dtype=np.int64).reshape(-1) for key in ("sites", "below"))
        for label, values in (("sites", sites), ("below", below)):
            if values.size and (values.min() < 0 or values.max() >= cells):
                raise InvalidGridSpecError(f"resource {label} must be cell indices below {cells}")
        self._sites, self._below = sites, below

    # -- reads ----------------------------------------------------------------------------
    def get(self) -> np.ndarray:
        """The resource grid as a plain ndarray sharing memory with the store."""
        return self.store.get(self._require_known(self.GRID))

    def total(self) -> float:
        """Sum of all resources (only sites can hold any), in float64."""
        return float(np.sum(self._cells(self._sites), dtype=np.float64))

    def get_resource_window(
        self, y0: int, y1: int, x0: int, x1: int, *, normalize: bool = True
    ) -> np.ndarray:
        return self.get_window(self.GRID, y0, y1, x0, x1, normalize_by=self._normalizer(normalize))

    def get_resource_windows(
        self, ys: object, xs: object, radius: int, *, normalize: bool = True, out: np.ndarray | None = None
    ) -> np.ndarray:
        return self.get_windows(self.GRID, ys, xs, radius, normalize_by=self._normalizer(normalize), out=out)

    def _normalizer(self, normalize: bool) -> float | None:
        return self.max_amount if normalize else None

    # -- updates --------------------------------------------------------------------------
    def consume(self, ys: object, xs: object, amounts: object) -> np.ndarray:
        """Take up to ``amounts[i]`` at ``(ys[i], xs[i])``; returns what each request got (float64).

        Requests on one cell are served in request order until it is empty; cells never go
        below zero; out-of-bounds requests get 0.
        """
        self._require_known(self.GRID)
        rows, cols = validate_centres(ys, xs)
        wanted = _validated_amounts(amounts, rows.shape[0])
        self._check_writable()
        taken = np.zeros(rows.shape[0], dtype=np.float64)
        inside = np.flatnonzero((rows >= 0) & (rows < self.height) & (cols >= 0) & (cols < self.width))
        if inside.size == 0:
            return taken
        cells = rows[inside].astype(np.int64) * self.width + cols[inside]
        # A stable sort groups requests by cell and keeps request order inside each group.
        order = np.argsort(cells, kind="stable")
        sorted_cells, sorted_wanted = cells[order], wanted[inside][order]
        first = np.empty(sorted_cells.shape, dtype=bool)
        first[0] = True
        np.not_equal(sorted_cells[1:], sorted_cells[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        group = np.cumsum(first) - 1
        running = np.cumsum(sorted_wanted)
        # Amount requested on the same cell before each request (cumulative sum within the group).
        before = running - sorted_wanted
        before -= before[starts][group]
        unique_cells = sorted_cells[starts]
        available = self._cells(unique_cells).astype(np.float64)
        got = np.minimum(sorted_wanted, np.maximum(available[group] - before, 0.0))
        taken[inside[order]] = got
        drained = np.add.reduceat(got, starts)
        changed = drained > 0.0
        if changed.any():
            hit = unique_cells[changed]
            # Computed in float64 and stored in the grid's dtype, as a direct write would.
            left = np.maximum(available[changed] - drained[changed], 0.0).astype(self._cap.dtype)
            self._set_cells(hit, left)
            self._below = np.union1d(self._below, hit)
        return taken

    def regrow(self) -> None:
        """One tick: each site below the cap gains ``regen_rate``, capped; touches only those sites."""
        if self._regen == 0 or self._below.size == 0:
            self._check_open()
            return
        self._check_writable()
        amounts = np.minimum(self._cells(self._below) + self._regen, self._cap)
        self._set_cells(self._below, amounts)
        self._below = self._below[amounts < self._cap]

    def _check_writable(self) -> None:
        self._check_open()
        if not self.store.info(self.GRID).writable:
            raise ReadOnlyGridError(f"grid {self.GRID!r} was opened read-only (mode 'r')")


def _validated_amounts(amounts: object, count: int) -> np.ndarray:
    return checked_values(amounts, count, np.dtype(np.float64), "amounts", non_negative=True)
