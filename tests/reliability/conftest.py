"""Fixtures of the reliability suite: store factories for every backend, child processes, a real tmpfs."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Callable, Iterator

import pytest

from farm_grids.stores import GridStore, MemmapStore, RamStore, SparseRamStore

BACKENDS = ("ram", "sparse_ram", "memmap")

StoreFactory = Callable[..., GridStore]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make_store(backend: str, tmp_path: Path) -> Iterator[StoreFactory]:
    """``make_store(**kwargs)``: a fresh store of the parametrised backend (closed at teardown)."""
    made: list[GridStore] = []

    def factory(**kwargs: object) -> GridStore:
        if backend == "ram":
            store: GridStore = RamStore(**kwargs)  # type: ignore[arg-type]
        elif backend == "sparse_ram":
            store = SparseRamStore(**kwargs)  # type: ignore[arg-type]
        else:
            store = MemmapStore(tmp_path / f"store{len(made)}", **kwargs)  # type: ignore[arg-type]
        made.append(store)
        return store

    yield factory
    for store in made:
        store.close_all(delete_files=True)


@pytest.fixture
def deadline() -> Iterator[None]:
    """Fail (instead of hanging the suite) if the test blocks for 30 s, e.g. opening a FIFO."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError("test blocked for 30 s (a FIFO or lock opened blocking?)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(30)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _mount_tmpfs(target: Path, size: str) -> str | None:
    """Mount a tmpfs of ``size`` at ``target``; the reason it cannot be done, or None."""
    if os.geteuid() != 0:
        return "mounting a tmpfs needs root"
    if shutil.which("mount") is None or shutil.which("umount") is None:
        return "mount/umount are not installed"
    target.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(target)],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        return f"mount -t tmpfs failed: {done.stderr.strip() or done.returncode}"
    return None


def _mounted(target: Path, options: str) -> Iterator[Path]:
    """Mount a real tmpfs at ``target`` (skipped with the reason when that cannot be done), yield it, unmount it."""
    reason = _mount_tmpfs(target, options)
    if reason is not None:
        pytest.skip(reason)
    try:
        yield target
    finally:
        done = subprocess.run(["umount", str(target)], capture_output=True, text=True, check=False)
        if done.returncode != 0:  # something still holds it (a leaked child): detach lazily
            subprocess.run(["umount", "-l", str(target)], capture_output=True, check=False)


@pytest.fixture
def tmpfs_few_inodes(tmp_path: Path) -> Iterator[Path]:
    """A real 4 MiB tmpfs with room for 32 inodes only (root only), unmounted at teardown."""
    yield from _mounted(tmp_path / "tmpfs", "4m,nr_inodes=32")


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A real 4 MiB tmpfs (root only; skipped with the reason otherwise), unmounted at teardown."""
    yield from _mounted(tmp_path / "tmpfs", "4m")
