"""Record what a workload asks of a store (the windows read, cells and regions written) and the pages that needs."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from farm_grids.stores import GridStore
from farm_grids.windows import WindowPlan
from harness.probes.footprint import FileLayout, union

# The public operations that read or write cells. Each is wrapped on the store instance
# (never in the class, never through private state): the recording sees the coordinates a
# caller passed, which is what the work needed, whatever the store then did with them.
_WINDOW_OPS = ("get_windows", "get_planned_windows")
_CELL_OPS = ("get_cells", "add_many", "add_at")
_REGION_OPS = ("get_window", "fill", "scale")
_WHOLE_OPS = ("write", "read")
UNTRACKED = ("get",)  # hands out the dense array: what is read through it cannot be seen


@dataclass
class GridTouches:
    """Everything recorded for one grid, as coordinates (pages come later, per layout)."""

    windows: list[tuple[np.ndarray, np.ndarray, int]] = field(default_factory=list)
    cells: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    regions: list[tuple[slice, slice]] = field(default_factory=list)
    tiles: list[tuple[np.ndarray, int]] = field(default_factory=list)
    untracked: int = 0  # calls whose reads cannot be seen (``get``)


def plan_centres(plan: WindowPlan) -> tuple[np.ndarray, np.ndarray]:
    """The window centres of a plan (interior origins back to centres, plus the edge centres)."""
    width, r = plan.shape[1], plan.radius
    y0, x0 = np.divmod(np.asarray(plan.positions, dtype=np.int64), width)
    ys = np.concatenate([y0 + r, np.asarray(plan.edge_ys, dtype=np.int64)])
    xs = np.concatenate([x0 + r, np.asarray(plan.edge_xs, dtype=np.int64)])
    return ys, xs


class StoreRecorder:
    """Wraps the public operations of the stores it is attached to and keeps their coordinates."""

    def __init__(self) -> None:
        self.grids: dict[tuple[int, str], GridTouches] = {}
        self._stores: dict[int, GridStore] = {}
        self._depth = 0  # > 0 inside a recorded call: what it calls itself is not the caller's ask

    def touches(self, store: GridStore, name: str) -> GridTouches:
        return self.grids.setdefault((id(store), name), GridTouches())

    def attach(self, store: GridStore) -> None:
        """Record every later call of the store's cell operations (idempotent)."""
        if id(store) in self._stores:
            return
        self._stores[id(store)] = store
        for op in (*_WINDOW_OPS, *_CELL_OPS, *_REGION_OPS, *_WHOLE_OPS, "scale_tiles", "create", *UNTRACKED):
            setattr(store, op, self._wrapped(store, op, getattr(store, op)))

    def _wrapped(self, store: GridStore, op: str, method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def recorded(name: str, *args: Any, **kwargs: Any) -> Any:
            self._depth += 1
            try:
                result = method(name, *args, **kwargs)
            finally:
                self._depth -= 1
            if self._depth == 0:  # after the call: a refused call touched nothing
                self._note(store, op, name, args, kwargs)
            return result

        return recorded

    def _note(self, store: GridStore, op: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        touches = self.touches(store, name)
        shape = store.info(name).shape
        if op == "get_windows":
            ys, xs, radius = (list(args) + [kwargs.get(k) for k in ("ys", "xs", "radius")][len(args):])[:3]
            touches.windows.append((np.asarray(ys, dtype=np.int64).copy(), np.asarray(xs, dtype=np.int64).copy(),
                                    int(radius)))
        elif op == "get_planned_windows":
            plan = args[0] if args else kwargs["plan"]
            touches.windows.append((*plan_centres(plan), int(plan.radius)))
        elif op in ("get_cells", "add_many"):
            ys, xs = (list(args) + [kwargs.get("ys"), kwargs.get("xs")][len(args):])[:2]
            touches.cells.append(tuple(np.broadcast_arrays(np.asarray(ys, dtype=np.int64).reshape(-1),
                                                           np.asarray(xs, dtype=np.int64).reshape(-1))))
        elif op == "add_at":
            touches.cells.append((np.array([int(args[0])]), np.array([int(args[1])])))
        elif op == "get_window":
            y0, y1, x0, x1 = (int(v) for v in args[:4])
            touches.regions.append((slice(y0, y1), slice(x0, x1)))
        elif op in ("fill", "scale"):
            region = kwargs.get("region")
            touches.regions.append(region if region is not None else (slice(0, shape[0]), slice(0, shape[1])))
        elif op in _WHOLE_OPS:
            touches.regions.append((slice(0, shape[0]), slice(0, shape[1])))
        elif op == "scale_tiles":
            mask = args[0] if args else kwargs["mask"]
            tile = args[1] if len(args) > 1 else kwargs["tile_size"]
            touches.tiles.append((np.asarray(mask, dtype=bool).copy(), int(tile)))
        elif op == "create":
            fill = kwargs.get("fill", 0.0)
            if fill:
                touches.regions.append((slice(0, shape[0]), slice(0, shape[1])))
        elif op in UNTRACKED:
            touches.untracked += 1

    def needed_pages(self, store: GridStore, name: str, layout: FileLayout) -> np.ndarray:
        """Distinct pages of ``name``'s file that the recorded work covers, in ``layout``."""
        touches = self.grids.get((id(store), name), GridTouches())
        parts = [layout.pages_of_windows(ys, xs, r) for ys, xs, r in touches.windows]
        parts += [layout.pages_of_cells(ys, xs) for ys, xs in touches.cells]
        parts += [layout.pages_of_region(rows, cols) for rows, cols in touches.regions]
        masks: dict[int, np.ndarray] = {}
        for mask, tile in touches.tiles:  # decay marks the same tiles tick after tick: one pass per side
            masks[tile] = mask if tile not in masks else masks[tile] | mask
        parts += [layout.pages_of_tiles(mask, tile) for tile, mask in masks.items()]
        return union(parts)
