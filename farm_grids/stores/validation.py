"""Argument checks shared by every store: names, shapes, dtypes, modes and regions."""

from __future__ import annotations

import numpy as np

from farm_grids.errors import InvalidGridSpecError
from farm_grids.limits import MAX_DIMENSION
from farm_grids.windows import validate_bound

__all__ = [
    "SUPPORTED_DTYPES",
    "VALID_MODES",
    "validate_dtype",
    "validate_mode",
    "validate_name",
    "validate_out_dtype",
    "validate_region",
    "validate_shape",
]

SUPPORTED_DTYPES: frozenset[str] = frozenset(
    {"float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32"}
)
VALID_MODES: tuple[str, ...] = ("w+", "r+", "r")


def validate_dtype(dtype: object) -> np.dtype:
    try:
        resolved = np.dtype(dtype)  # type: ignore[call-overload]
    except (TypeError, ValueError, SyntaxError) as exc:
        raise InvalidGridSpecError(f"unsupported dtype {dtype!r}") from exc
    if resolved.name not in SUPPORTED_DTYPES or not resolved.isnative:
        raise InvalidGridSpecError(f"unsupported dtype {dtype!r}; use one of {sorted(SUPPORTED_DTYPES)}")
    return resolved


def validate_out_dtype(dtype: object) -> np.dtype:
    """A window's output dtype: any supported grid dtype."""
    return validate_dtype(dtype)


def validate_shape(shape: object) -> tuple[int, int]:
    if not isinstance(shape, (tuple, list)) or len(shape) != 2:
        raise InvalidGridSpecError(f"shape must be a 2-tuple (height, width), got {shape!r}")
    dims = tuple(validate_bound(d, "shape") for d in shape)
    if dims[0] <= 0 or dims[1] <= 0:
        raise InvalidGridSpecError(f"shape must be positive, got {shape!r}")
    if dims[0] > MAX_DIMENSION or dims[1] > MAX_DIMENSION:
        raise InvalidGridSpecError(f"shape {shape!r}: each side must be at most {MAX_DIMENSION}")
    return dims  # type: ignore[return-value]


def validate_mode(mode: object) -> str:
    if not isinstance(mode, str) or mode not in VALID_MODES:
        raise InvalidGridSpecError(f"unknown mode {mode!r}; use one of {VALID_MODES}")
    return mode


def validate_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidGridSpecError(f"grid name must be a non-empty string, got {name!r}")
    return name


def _validate_slice(part: object, size: int, label: str) -> slice:
    if not isinstance(part, slice):
        raise InvalidGridSpecError(f"region {label} must be a slice, got {part!r}")
    for bound in (part.start, part.stop):
        if bound is not None:
            validate_bound(bound, f"region {label} bound")
    if part.step not in (None, 1):
        raise InvalidGridSpecError(f"region {label} must have step 1, got {part.step!r}")
    start, stop, _ = part.indices(size)
    return slice(start, max(start, stop))


def validate_region(region: object, shape: tuple[int, int]) -> tuple[slice, slice]:
    """``region`` as two clipped step-1 slices ``(rows, cols)`` of a grid of ``shape``."""
    if not isinstance(region, tuple) or len(region) != 2:
        raise InvalidGridSpecError(f"region must be a (rows, cols) tuple of slices, got {region!r}")
    return _validate_slice(region[0], shape[0], "rows"), _validate_slice(region[1], shape[1], "cols")
