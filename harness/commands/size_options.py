"""Argument types for size options, bounded by what this machine can hold and checked while parsing."""

from __future__ import annotations

import argparse
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from farm_grids.observe import default_registry
from farm_grids.config import SimulationConfig
from farm_grids.errors import FarmGridsError
from farm_grids.limits import MAX_DIMENSION, check_request
from harness.commands.commandline import int_at_least

# Every grid the harness builds is float32 (the engine's default dtype).
CELL_BYTES = 4
GIB = 2**30


def _whole_number(text: str, minimum: int) -> int:
    return int_at_least(minimum)(text)


def _within_request_limit(nbytes: int, what: str) -> None:
    # The same check the engine makes before it allocates, made before any work starts; a
    # malformed FARM_GRIDS_MAX_REQUEST_BYTES surfaces here too, as the usage error it is.
    try:
        check_request(nbytes, what)
    except FarmGridsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _side(text: str, minimum: int) -> int:
    side = _whole_number(text, minimum)
    if side > MAX_DIMENSION:
        raise argparse.ArgumentTypeError(f"grid side {side} is above the largest the engine takes ({MAX_DIMENSION})")
    return side


def grid_side_in_memory(minimum: int) -> Callable[[str], int]:
    """A grid side >= ``minimum`` whose float32 grid fits the engine's request limit (grids held in RAM)."""

    def parse(text: str) -> int:
        side = _side(text, minimum)
        _within_request_limit(side * side * CELL_BYTES, f"a {side}x{side} float32 grid")
        return side

    return parse


def grid_sides_in_memory(minimum: int) -> Callable[[str], tuple[int, ...]]:
    """Comma-separated grid sides, each one as ``grid_side_in_memory(minimum)`` takes it."""
    one = grid_side_in_memory(minimum)

    def parse(text: str) -> tuple[int, ...]:
        items = [item.strip() for item in text.split(",")]
        if not text.strip() or not all(items):
            raise argparse.ArgumentTypeError(f"expected comma-separated grid sides, got {text!r}")
        return tuple(one(item) for item in items)

    return parse


def free_scratch_bytes(directory: str | Path | None = None) -> int:
    """Free bytes of the file system scratch directories are made on (the temp dir by default)."""
    return shutil.disk_usage(directory if directory is not None else tempfile.gettempdir()).free


def grid_side_on_disk(minimum: int, *, allow_zero: bool = False) -> Callable[[str], int]:
    """A grid side >= ``minimum`` (or 0 for none) whose float32 grid file fits the scratch file system's free space.

    Such grids are written in full (a cold read must be a disk read), so the free space is the bound.
    """

    def parse(text: str) -> int:
        if allow_zero and text.strip() == "0":
            return 0
        side = _side(text, minimum)
        needed, free = side * side * CELL_BYTES, free_scratch_bytes()
        if needed > free:
            raise argparse.ArgumentTypeError(f"a {side}x{side} float32 grid file needs {needed / GIB:.1f} GiB, more "
                                             f"than the {free / GIB:.1f} GiB free in {tempfile.gettempdir()}")
        return side

    return parse


def observation_bytes_per_agent(config: SimulationConfig | None = None) -> int:
    """Bytes of one agent's observation (channels x side x side float32) under ``config`` (default: defaults)."""
    side = (config or SimulationConfig()).observation.size
    return len(default_registry()) * side * side * CELL_BYTES


def count_in_memory(bytes_each: int, what: str, minimum: int = 1) -> Callable[[str], int]:
    """A count >= ``minimum`` of things of ``bytes_each`` bytes that all fit the request limit at once.

    ``what`` names them all with ``{}`` for the count, e.g. "a batch of {} windows".
    """

    def parse(text: str) -> int:
        count = _whole_number(text, minimum)
        _within_request_limit(count * bytes_each, what.format(count))
        return count

    return parse
