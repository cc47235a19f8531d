"""DenseArrayStore: the contract's primitives and fast paths over one C-contiguous ndarray per grid."""

from __future__ import annotations

from typing import Callable

import numpy as np

from farm_grids.limits import max_request_bytes
from farm_grids.points import scatter
from farm_grids.stores import blockops
from farm_grids.stores.base import GridStore
from farm_grids.stores.entry import GridEntry
from farm_grids.windows import WindowPlan, read_planned_windows

__all__ = ["DenseArrayStore"]

_FLOAT32 = np.dtype(np.float32)
_F32_TYPE = np.float32


class DenseArrayStore(GridStore):
    """A backend whose every grid is one writable C-contiguous ndarray (``entry.array``).

    RAM, sparse RAM and memmap share these: every fast path is one numpy call on the array,
    and float32 grids get an unchecked single-window path for in-bounds reads.
    """

    def __init__(self, *, default_dtype: object = "float32", default_mode: str = "w+") -> None:
        super().__init__(default_dtype=default_dtype, default_mode=default_mode)
        # name -> (array, height, width) of float32 grids: the single-window fast path
        # needs nothing else, and every attribute lookup there costs a visible share.
        self._fast: dict[str, tuple[np.ndarray, int, int]] = {}

    def _register(self, entry: GridEntry) -> None:
        super()._register(entry)
        # Only grids within the request limit take the unchecked path: an in-bounds window
        # of them can never be larger than the limit.
        if (
            entry.array is not None
            and entry.array.dtype == _FLOAT32
            and entry.info.nbytes <= max_request_bytes()
            and not self._needs_read_reserve(entry)
        ):
            self._fast[entry.name] = (entry.array, entry.shape[0], entry.shape[1])

    def _unregister(self, name: str) -> GridEntry:
        self._fast.pop(name, None)
        return super()._unregister(name)

    # -- primitives -----------------------------------------------------------------------
    def _read_region(self, entry: GridEntry, rows: slice, cols: slice, out: np.ndarray) -> None:
        np.copyto(out, entry.array[rows, cols], casting="unsafe")  # type: ignore[index]

    def _write_region(self, entry: GridEntry, rows: slice, cols: slice, data: np.ndarray) -> None:
        np.copyto(entry.array[rows, cols], data, casting="unsafe")  # type: ignore[index]

    # -- fast paths -----------------------------------------------------------------------
    def _fill_region(self, entry: GridEntry, rows: slice, cols: slice, value: float) -> None:
        entry.array[rows, cols].fill(value)  # type: ignore[index]

    def _apply_region(self, entry: GridEntry, rows: slice, cols: slice, op: Callable[[np.ndarray], None]) -> None:
        op(entry.array[rows, cols])  # type: ignore[index]

    def _gather(self, entry: GridEntry, plan: WindowPlan, normalize_by: float | None, out: np.ndarray | None) -> np.ndarray:
        return read_planned_windows(entry.array, plan, normalize_by=normalize_by, out=out)  # type: ignore[arg-type]

    def _read_cells(self, entry: GridEntry, flat: np.ndarray) -> np.ndarray:
        return entry.array.reshape(-1)[flat]  # type: ignore[union-attr]

    def _write_cells(self, entry: GridEntry, flat: np.ndarray, values: np.ndarray) -> None:
        entry.array.reshape(-1)[flat] = values  # type: ignore[union-attr]

    def _scatter(self, entry: GridEntry, flat: np.ndarray, amounts: np.ndarray, accumulate: bool,
                 clip_max: float | None) -> None:
        scatter(entry.array.reshape(-1), flat, amounts, accumulate=accumulate, clip_max=clip_max)  # type: ignore[union-attr]

    def _scale_tiles(self, entry: GridEntry, mask: np.ndarray, tile_size: int, factor: object, floor: float) -> np.ndarray:
        return blockops.scale_tiles(entry.array, mask, tile_size, factor, floor)  # type: ignore[arg-type]

    def get_window(self, name: str, y0: int, y1: int, x0: int, x1: int, *, normalize_by: float | None = None,
                   out_dtype: object = np.float32) -> np.ndarray:
        try:
            fast = self._fast.get(name)  # type: ignore[call-overload]
        except TypeError:  # an unhashable name: the checked path raises GridNotFoundError
            fast = None
        if fast is not None and normalize_by is None and out_dtype is _F32_TYPE:
            # In bounds, float32 in and out: one slice copy, exactly what the checked path
            # does after its checks. Floats, NaN, None and bools fail the comparisons, the
            # slice (TypeError) or the class test and take the checked path, which raises
            # the typed error.
            array, height, width = fast
            try:
                if (
                    0 <= y0 <= y1 <= height
                    and 0 <= x0 <= x1 <= width
                    and y0.__class__ is not bool is not y1.__class__
                    and x0.__class__ is not bool is not x1.__class__
                ):
                    return array[y0:y1, x0:x1].copy()
            except TypeError:
                pass
        return super().get_window(name, y0, y1, x0, x1, normalize_by=normalize_by, out_dtype=out_dtype)
