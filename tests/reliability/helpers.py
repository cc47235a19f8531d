"""Shared helpers of the reliability suite: child processes, directory states, inotify, full disks."""

from __future__ import annotations

import ctypes
import hashlib
import os
import select
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

from ..stores.support import python_env, signed  # noqa: F401  (re-exported for the suite)

__all__ = [
    "AccessWatch",
    "ChildResult",
    "FILL_DISK_CODE",
    "fill_disk",
    "python_env",
    "read_line",
    "run_child",
    "signed",
    "spawn",
    "tree_state",
]

# A child that must never be able to take the host down: its address space is capped, so a
# regression that tries to allocate tens of GiB fails inside the child with MemoryError.
CHILD_ADDRESS_SPACE = 4 * 2**30


class ChildResult:
    """Return code, stdout and stderr of a finished child interpreter."""

    def __init__(self, done: subprocess.CompletedProcess[str]) -> None:
        self.returncode, self.stdout, self.stderr = done.returncode, done.stdout, done.stderr

    def explain(self) -> str:
        return f"child exited with {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def _prelude(address_space: int | None) -> str:
    if address_space is None:
        return ""
    return (
        "import resource\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({address_space}, {address_space}))\n"
    )


def run_child(code: str, *args: str, timeout: float = 60.0, address_space: int | None = CHILD_ADDRESS_SPACE) -> ChildResult:
    """Run ``code`` (dedented) in a fresh interpreter, capped at ``address_space`` bytes."""
    source = _prelude(address_space) + textwrap.dedent(code)
    done = subprocess.run(
        [sys.executable, "-c", source, *args],
        env=python_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return ChildResult(done)


# A spawned child prints every thread's stack on SIGABRT: a child that stalls is shown where.
_STACKS_ON_ABORT = "import faulthandler\nfaulthandler.enable()\n"


def spawn(code: str, *args: str, prefix: tuple[str, ...] = (), address_space: int | None = CHILD_ADDRESS_SPACE) -> subprocess.Popen[str]:
    """Start ``code`` in a child interpreter (optionally behind ``prefix``, e.g. unshare) with pipes."""
    source = _STACKS_ON_ABORT + _prelude(address_space) + textwrap.dedent(code)
    return subprocess.Popen(
        [*prefix, sys.executable, "-c", source, *args],
        env=python_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_line(proc: subprocess.Popen[str], timeout: float = 30.0) -> str:
    """The child's next stdout line; fails the test if none comes within ``timeout``."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:  # stalled: its stacks (faulthandler, on SIGABRT) say where
        if proc.poll() is None:
            proc.send_signal(signal.SIGABRT)
            proc.wait(timeout=30)
        stderr = proc.stderr.read() if proc.stderr else ""
        raise AssertionError(f"child {proc.pid} printed nothing within {timeout}s; its stderr:\n{stderr[-4000:]}")
    line = proc.stdout.readline()
    assert line, f"child {proc.pid} closed stdout (rc {proc.poll()}): {proc.stderr.read() if proc.stderr else ''}"
    return line.strip()


def tree_state(directory: Path) -> dict[str, tuple[str, str]]:
    """Every entry below ``directory`` without following symlinks: kind and content digest."""
    state: dict[str, tuple[str, str]] = {}
    if not directory.exists():
        return state
    for path in sorted(directory.rglob("*")):
        info = path.lstat()
        name = str(path.relative_to(directory))
        if stat.S_ISLNK(info.st_mode):
            state[name] = ("symlink", os.readlink(path))
        elif stat.S_ISREG(info.st_mode):
            state[name] = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
        elif stat.S_ISDIR(info.st_mode):
            state[name] = ("dir", "")
        else:
            state[name] = (f"mode {stat.S_IFMT(info.st_mode):o}", "")
    return state


class AccessWatch:
    """inotify on some paths: proves that nothing opened, read, wrote or deleted them."""

    IN_ACCESS, IN_MODIFY, IN_ATTRIB, IN_CLOSE_WRITE, IN_OPEN = 0x1, 0x2, 0x4, 0x8, 0x20
    IN_DELETE_SELF, IN_MOVE_SELF, IN_NONBLOCK, IN_CLOEXEC = 0x400, 0x800, 0o4000, 0o2000000
    MASK = IN_ACCESS | IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_OPEN | IN_DELETE_SELF | IN_MOVE_SELF

    def __init__(self, *paths: Path) -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._fd = self._libc.inotify_init1(self.IN_NONBLOCK | self.IN_CLOEXEC)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        self.names: dict[int, str] = {}
        for path in paths:
            wd = self._libc.inotify_add_watch(self._fd, os.fsencode(path), self.MASK)
            if wd < 0:
                raise OSError(ctypes.get_errno(), f"inotify_add_watch {path}")
            self.names[wd] = str(path)

    def events(self) -> list[tuple[str, int]]:
        """(path, mask) of every event since the watch began."""
        found: list[tuple[str, int]] = []
        while True:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                return found
            offset = 0
            while offset < len(data):
                wd, mask, _cookie, length = int.from_bytes(data[offset:offset + 4], "little", signed=True), \
                    int.from_bytes(data[offset + 4:offset + 8], "little"), 0, \
                    int.from_bytes(data[offset + 12:offset + 16], "little")
                found.append((self.names.get(wd, str(wd)), mask))
                offset += 16 + length

    def close(self) -> None:
        os.close(self._fd)


# Source of fill_disk, so a child interpreter can fill its disk itself (exec'd below for the parent).
FILL_DISK_CODE = """
def fill_disk(directory):
    import errno, os
    filler = os.path.join(str(directory), "filler.bin")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        for chunk in (1 << 20, 1 << 16, 4096, 512, 1):
            block = b"\\x01" * chunk
            while True:
                try:
                    os.write(fd, block)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(fd)
    return filler
"""
_namespace: dict[str, object] = {}
exec(FILL_DISK_CODE, _namespace)
fill_disk = _namespace["fill_disk"]
fill_disk.__doc__ = "Write a filler file in ``directory`` until its filesystem has not one byte left."
