"""Busy processes beside a measurement (the self-test's --load): started, then stopped by their own ids."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from harness.errors import HarnessUsageError

SPIN = "while True:\n    pass\n"


@contextmanager
def busy_processes(count: int) -> Iterator[tuple[int, ...]]:
    """``count`` Python spin loops for the duration of the block; yields their pids, stops each at exit."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise HarnessUsageError(f"load must be an integer >= 0, got {count!r}")
    started: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(count):
            started.append(subprocess.Popen([sys.executable, "-c", SPIN], stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        yield tuple(p.pid for p in started)
    finally:
        for process in started:  # only what this block started, by its handle
            process.terminate()
        for process in started:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
