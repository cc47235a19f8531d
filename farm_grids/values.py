"""Value rules for every write path: convert and check the whole input before any cell changes."""

from __future__ import annotations

import math
import numbers

import numpy as np

from farm_grids.errors import InvalidGridSpecError

__all__ = [
    "checked_array",
    "checked_clip_max",
    "checked_flag",
    "checked_scalar",
    "checked_values",
    "validate_finite",
    "validate_gamma",
]

# Arrays are checked in slices of this many cells, so validating a large memmap grid never
# needs a temporary the size of the grid.
_CHECK_CHUNK = 1 << 20


def validate_finite(value: object, label: str) -> float:
    """A finite real number (never a bool), or InvalidGridSpecError naming ``label``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise InvalidGridSpecError(f"{label} must be a real number, got {value!r}")
    try:
        result = float(value)
    except OverflowError:  # a Python int beyond float range
        raise InvalidGridSpecError(f"{label} must be finite, got {value!r}") from None
    if not math.isfinite(result):
        raise InvalidGridSpecError(f"{label} must be finite, got {value!r}")
    return result


def validate_gamma(gamma: object, label: str) -> float:
    """A decay factor in (0, 1], or InvalidGridSpecError naming ``label`` and the value."""
    value = validate_finite(gamma, f"gamma for {label}")
    if not 0.0 < value <= 1.0:
        raise InvalidGridSpecError(f"gamma for {label} must be in (0, 1], got {gamma!r}")
    return value


def checked_clip_max(clip_max: object, dtype: np.dtype) -> float | None:
    """A deposit's cap: None, or a finite number >= 0 that fits ``dtype`` (dense and sparse alike)."""
    if clip_max is None:
        return None
    cap = checked_scalar(clip_max, dtype, "clip_max")
    if cap < 0:
        raise InvalidGridSpecError(f"clip_max must be >= 0, got {clip_max!r}")
    return float(cap)


def checked_flag(value: object, label: str) -> bool:
    """A bool (numpy's too), never a truthy stand-in such as ``"no"`` or ``1``."""
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidGridSpecError(f"{label} must be True or False, got {value!r}")
    return bool(value)


def checked_scalar(value: object, dtype: np.dtype, label: str) -> float | int:
    """``value`` as it will be stored in a ``dtype`` cell, or InvalidGridSpecError.

    Floats must stay finite after rounding to ``dtype`` (1e300 is not float32); integer
    cells take the value truncated toward zero, which must fit the type (300 is not uint8).
    """
    number = validate_finite(value, label)
    if dtype.kind == "f":
        with np.errstate(over="ignore"):  # the overflow is the finding, not a warning to print
            rounded = float(dtype.type(number))
        if not math.isfinite(rounded):
            raise InvalidGridSpecError(f"{label} {value!r} overflows {dtype.name}")
        return number
    info = np.iinfo(dtype)
    whole = int(value) if isinstance(value, numbers.Integral) else math.trunc(number)
    if not info.min <= whole <= info.max:
        raise InvalidGridSpecError(f"{label} {value!r} is outside the range of {dtype.name} [{info.min}, {info.max}]")
    return whole


def _numeric(data: object, label: str) -> np.ndarray:
    """``data`` as a numeric ndarray; object and text inputs are converted whole, first."""
    try:
        array = np.asarray(data)
        if array.dtype.kind == "O":
            # An object array may fail part-way through (its last cell is "x"): convert it
            # completely into a new array before anything reaches the grid.
            array = np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidGridSpecError(f"{label} must be numbers: {exc}") from None
    if array.dtype.kind not in "biuf":
        raise InvalidGridSpecError(f"{label} must be real numbers, got dtype {array.dtype}")
    return array


def _check_fits(array: np.ndarray, dtype: np.dtype, label: str) -> None:
    """Raise unless every value of ``array`` survives the cast to ``dtype`` (chunked, read-only)."""
    flat = array.reshape(-1)
    if array.dtype.kind == "b":
        return  # 0 and 1 fit every supported dtype
    for start in range(0, flat.size, _CHECK_CHUNK):
        chunk = flat[start : start + _CHECK_CHUNK]
        if dtype.kind == "f":
            if chunk.dtype.kind == "f" and not np.isfinite(chunk).all():
                raise InvalidGridSpecError(f"{label} must be finite (found NaN or inf)")
            narrows = chunk.dtype.kind != "f" or chunk.dtype.itemsize > dtype.itemsize
            with np.errstate(over="ignore"):
                overflows = narrows and not np.isfinite(chunk.astype(dtype)).all()
            if overflows:
                raise InvalidGridSpecError(f"{label} holds values that overflow {dtype.name}")
            continue
        info = np.iinfo(dtype)
        if chunk.dtype.kind == "f":
            if not np.isfinite(chunk).all():
                raise InvalidGridSpecError(f"{label} must be finite (found NaN or inf)")
            whole = np.trunc(chunk)
            # float(info.max) + 1 is exact (a power of two) where float(info.max) may round up.
            bad = (whole < float(info.min)) | (whole >= float(info.max) + 1.0)
        elif chunk.size:
            bad = np.array([int(chunk.min()) < info.min or int(chunk.max()) > info.max])
        else:
            continue
        if bad.any():
            raise InvalidGridSpecError(f"{label} holds values outside the range of {dtype.name}")


def checked_array(data: object, dtype: np.dtype, shape: tuple[int, ...], label: str) -> np.ndarray:
    """``data`` as a numeric array of ``shape`` whose every value fits ``dtype``.

    Returned uncast (the caller copies with ``casting="unsafe"``, which cannot fail now).
    A bool array is a mask and stores as 0/1.
    """
    array = _numeric(data, label)
    if array.shape != tuple(shape):
        raise InvalidGridSpecError(f"{label} needs shape {tuple(shape)}, got {array.shape}")
    _check_fits(array, dtype, label)
    return array


def _holds_bool(values: object) -> bool:
    """Whether a list, tuple or object array holds a bool anywhere (numpy would make it 0/1)."""
    if isinstance(values, (bool, np.bool_)):
        return True
    if isinstance(values, (list, tuple)):
        return any(_holds_bool(item) for item in values)
    if isinstance(values, np.ndarray) and values.dtype.kind == "O":
        return any(isinstance(item, (bool, np.bool_)) for item in values.flat)
    return False


def checked_values(
    values: object, count: int, dtype: np.dtype, label: str, *, non_negative: bool = False
) -> np.ndarray:
    """One value per point (a scalar is repeated) as ``dtype``, each fitting it; bools refused."""
    array = _numeric(values, label)
    from_python = not isinstance(values, np.ndarray) or values.dtype.kind == "O"
    if array.dtype.kind == "b" or (from_python and _holds_bool(values)):
        raise InvalidGridSpecError(f"{label} must be numbers, not booleans")
    if array.ndim == 0:
        array = np.full(count, array[()], dtype=array.dtype)
    if array.shape != (count,):
        raise InvalidGridSpecError(f"{label} must be a scalar or have length {count}, got shape {array.shape}")
    _check_fits(array, dtype, label)
    if non_negative and array.size and (array < 0).any():
        raise InvalidGridSpecError(f"{label} must be >= 0, got {array[array < 0][0]!r}")
    return array.astype(dtype, copy=False)
