"""Runs of the `farm-harness` command line in a fresh interpreter, as a user runs it."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

from .helpers import ChildResult, python_env


def run_harness(*argv: str, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 120.0) -> ChildResult:
    """``python -m harness ARGV`` importing this checkout; tracebacks of internal errors go under ``cwd``."""
    child_env = {**python_env(), "FARM_HARNESS_CRASH_DIR": str(cwd), **(env or {})}
    done = subprocess.run([sys.executable, "-m", "harness", *argv], cwd=cwd, env=child_env,
                          capture_output=True, text=True, timeout=timeout, check=False)
    return ChildResult(done)


def assert_usage_error(result: ChildResult, fragment: str = "") -> None:
    """Exit 2 with exactly one line on stderr (containing ``fragment``), no internal error."""
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.explain()
    assert len(lines) == 1 and result.stderr.endswith("\n"), result.explain()
    assert "internal error" not in result.stderr and fragment in result.stderr, result.explain()


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A TCP port on 127.0.0.1 that refuses connections: bound while inside (so nobody takes it), never listening."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield int(holder.getsockname()[1])
