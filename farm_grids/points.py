"""Scattered point updates: validate (y, x, value) events once, then add or set them in bulk."""

from __future__ import annotations

import numpy as np

from farm_grids.values import checked_values
from farm_grids.windows import validate_centres

__all__ = ["flat_points", "scatter"]


def flat_points(
    ys: object,
    xs: object,
    values: object,
    shape: tuple[int, int],
    *,
    label: str,
    dtype: np.dtype | type = np.float64,
) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices ``y * W + x`` of the in-bounds points and their values as ``dtype``.

    ``values`` is a scalar or one per point, each finite and fitting ``dtype``; points
    outside ``shape`` are dropped (events that land off the world are not an error).
    """
    rows, cols = validate_centres(ys, xs)
    amounts = checked_values(values, rows.shape[0], np.dtype(dtype), f"values for {label!r}")
    height, width = shape
    keep = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
    if keep.all():
        return rows * width + cols, amounts
    return rows[keep] * width + cols[keep], amounts[keep]


def scatter(
    target: np.ndarray,
    index: np.ndarray,
    amounts: np.ndarray,
    *,
    accumulate: bool,
    clip_max: float | None,
) -> None:
    """Add (or set, last one winning) ``amounts`` at ``target[index]``, then clip those cells.

    ``target`` is 1-D; arithmetic happens in its dtype, so every caller rounds alike.
    """
    amounts = amounts.astype(target.dtype, copy=False)
    if accumulate:
        np.add.at(target, index, amounts)
    else:
        # Plain fancy assignment leaves the winner among duplicates unspecified.
        reversed_unique, first = np.unique(index[::-1], return_index=True)
        target[reversed_unique] = amounts[::-1][first]
    if clip_max is not None:
        # Duplicate cells read the same summed value and write back the same clipped one,
        # so no np.unique (which would cost more than the whole add).
        clipped = target[index]
        np.minimum(clipped, target.dtype.type(clip_max), out=clipped)
        target[index] = clipped
