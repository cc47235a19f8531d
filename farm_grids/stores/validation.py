"""Argument checks shared by every store: names, labels, directories, shapes, sizes, dtypes, modes and regions."""

from __future__ import annotations

import os
import resource
import sys

import numpy as np

from farm_grids.errors import InvalidGridSpecError, RequestTooLargeError
from farm_grids.limits import MAX_DIMENSION
from farm_grids.names import path_problem, text_problem
from farm_grids.windows import validate_bound

__all__ = [
    "SUPPORTED_DTYPES",
    "VALID_MODES",
    "address_space_bytes",
    "validate_directory",
    "validate_label",
    "validate_storage_size",
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
# The user address space of 64-bit Linux with 4-level page tables (x86-64, arm64): no
# mapping, sparse or not, can be larger, whatever the disk holds.
_USER_ADDRESS_SPACE = min(2**47, sys.maxsize)


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


def _check_text(text: str, what: str) -> None:
    problem = text_problem(text)
    if problem is not None:
        raise InvalidGridSpecError(f"{what} {text!r} {problem}")


def validate_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidGridSpecError(f"grid name must be a non-empty string, got {name!r}")
    _check_text(name, "grid name")
    return name


def validate_label(value: object, what: str) -> str | None:
    """A ``simulation_id`` or ``namespace``: None, or text that can be part of a file name."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidGridSpecError(f"{what} must be a string or None, got {value!r}")
    _check_text(value, what)
    return value


def validate_directory(directory: object, what: str = "directory") -> str:
    """A local path as text: no NUL, no lone surrogate, no component longer than NAME_MAX bytes."""
    try:
        text = os.fspath(directory)  # type: ignore[arg-type]
    except TypeError:
        raise InvalidGridSpecError(f"{what} must be a path, got {directory!r}") from None
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    problem = path_problem(text)
    if problem is not None:
        raise InvalidGridSpecError(f"{what} {text[:80]!r} {problem}")
    return text


def address_space_bytes() -> int:
    """Bytes of address space this process may still map (``ulimit -v`` counts)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    limit = _USER_ADDRESS_SPACE if soft == resource.RLIM_INFINITY else min(soft, _USER_ADDRESS_SPACE)
    try:
        with open("/proc/self/statm", "rb") as stream:
            used = int(stream.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):  # not Linux: the limit alone
        used = 0
    return max(0, limit - used)


def validate_storage_size(shape: tuple[int, int], dtype: np.dtype, tile: int, what: str) -> int:
    """Bytes a ``shape`` grid takes in ``tile``-square blocks (1: rows); refused beyond the address space.

    Every backend maps a grid whole (a file, or a chunk mirror reserving its pages), so a
    grid larger than the address space left is RequestTooLargeError before anything exists,
    never an OverflowError or ENOMEM from mmap.
    """
    nbytes = -(-shape[0] // tile) * -(-shape[1] // tile) * tile * tile * dtype.itemsize
    room = address_space_bytes()
    if nbytes > room:
        raise RequestTooLargeError(f"{what} {shape} {dtype.name} needs {nbytes} bytes of address space; "
                                   f"this process has {room} left (ulimit -v and the machine's address space)")
    return nbytes


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
