"""Scratch buffers: work arrays kept across ticks by key, so a hot loop faults its pages in once."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from farm_grids.errors import InvalidGridSpecError
from farm_grids.limits import check_request

__all__ = ["ScratchBuffers", "scratch_spec"]


def scratch_spec(shape: object, dtype: object) -> tuple[tuple[int, ...], np.dtype]:
    """A scratch buffer's shape (non-negative ints) and dtype, or InvalidGridSpecError."""
    dims = (shape,) if isinstance(shape, (int, np.integer)) else shape
    if not isinstance(dims, (tuple, list)) or not all(
            isinstance(d, (int, np.integer)) and not isinstance(d, (bool, np.bool_)) and d >= 0 for d in dims):
        raise InvalidGridSpecError(f"scratch shape must be non-negative integers, got {shape!r}")
    try:
        resolved = np.dtype(dtype)  # type: ignore[call-overload]
    except (TypeError, ValueError) as exc:
        raise InvalidGridSpecError(f"unsupported scratch dtype {dtype!r}") from exc
    return tuple(int(d) for d in dims), resolved


class ScratchBuffers:
    """One buffer per key, reallocated only when its shape or dtype changes (contents undefined)."""

    def __init__(self) -> None:
        self._buffers: dict[str, np.ndarray] = {}

    def get(self, key: str, shape: tuple[int, ...], dtype: npt.DTypeLike = np.float32) -> np.ndarray:
        buffer = self._buffers.get(key)
        if buffer is None or buffer.shape != shape or buffer.dtype != dtype:
            dims, resolved = scratch_spec(shape, dtype)
            check_request(math.prod(dims) * resolved.itemsize, f"scratch buffer {key!r} {dims} {resolved.name}")
            buffer = self._buffers[key] = np.empty(dims, dtype=resolved)
        return buffer
