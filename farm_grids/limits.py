"""Request limits: refuse any allocation larger than the machine can hold, before it happens."""

from __future__ import annotations

import contextlib
import os
import re
from typing import Iterator

from farm_grids.errors import InvalidGridSpecError, RequestTooLargeError

__all__ = [
    "DEFAULT_MEMORY_FRACTION",
    "ENV_VAR",
    "MAX_DIMENSION",
    "check_request",
    "max_request_bytes",
    "physical_memory",
    "request_limit",
    "set_max_request_bytes",
]

# A single request may take at most this share of physical memory: enough for any world
# that fits in RAM, small enough that a typo (radius=10**9) fails fast instead of OOM-killing
# the process (or the host).
DEFAULT_MEMORY_FRACTION = 0.5
ENV_VAR = "FARM_GRIDS_MAX_REQUEST_BYTES"
# Grid sides stay below 2**31 so flat indices y * W + x never overflow int64 arithmetic.
MAX_DIMENSION = 2**31 - 1

_override: int | None = None
_WHOLE_BYTES = re.compile(r"[0-9]{1,30}")


def physical_memory() -> int:
    """Bytes of physical memory on this machine."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):  # not POSIX: assume a small machine
        return 8 * 2**30


def _from_environment() -> int | None:
    text = os.environ.get(ENV_VAR, "").strip()
    if not text:
        return None
    # ASCII digits only: int() would also take "1_000", "+7" and other scripts' digits, and a
    # value long enough to hit Python's digit limit; the message shows at most the start of it.
    if not _WHOLE_BYTES.fullmatch(text):
        shown = text if len(text) <= 40 else f"{text[:40]}..."
        raise InvalidGridSpecError(f"{ENV_VAR} must be a whole number of bytes, got {shown!r}")
    value = int(text)
    if value <= 0:
        raise InvalidGridSpecError(f"{ENV_VAR} must be positive, got {text!r}")
    return value


def max_request_bytes() -> int:
    """The largest single allocation farm-grids will attempt, in bytes.

    Set with ``set_max_request_bytes`` (or ``request_limit``), or the environment variable
    ``FARM_GRIDS_MAX_REQUEST_BYTES``; by default half of physical memory.
    """
    if _override is not None:
        return _override
    configured = _from_environment()
    if configured is not None:
        return configured
    return int(physical_memory() * DEFAULT_MEMORY_FRACTION)


def set_max_request_bytes(limit: int | None) -> None:
    """Set the limit for this process; ``None`` restores the default."""
    global _override
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0):
        raise InvalidGridSpecError(f"the request limit must be a positive int or None, got {limit!r}")
    _override = limit


@contextlib.contextmanager
def request_limit(limit: int | None) -> Iterator[None]:
    """Use ``limit`` inside the ``with`` block, then restore the previous setting."""
    global _override
    previous = _override
    set_max_request_bytes(limit)
    try:
        yield
    finally:
        _override = previous


def check_request(nbytes: int, what: str) -> None:
    """Raise RequestTooLargeError if ``nbytes`` exceeds the limit; ``what`` names the request."""
    limit = max_request_bytes()
    if nbytes > limit:
        raise RequestTooLargeError(
            f"{what} needs {_size(nbytes)}, above the limit of {_size(limit)} "
            f"(farm_grids.limits.set_max_request_bytes or {ENV_VAR} raise it)"
        )


def _size(nbytes: int) -> str:
    if nbytes >= 2**30:
        return f"{nbytes / 2**30:.1f} GiB"
    if nbytes >= 2**20:
        return f"{nbytes / 2**20:.1f} MiB"
    return f"{nbytes} bytes"
