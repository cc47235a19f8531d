"""Where a cell ran: the worker's machine (CPU, cores, memory, kernel, the file system under its scratch directory)."""

from __future__ import annotations

import functools
import os
import platform
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

from harness.results.document import git_commit, package_version

MACHINE_TYPE_ENV = "FARM_HARNESS_MACHINE_TYPE"  # a worker's own name for its machine type, e.g. "nvme"
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


@dataclass(frozen=True)
class Fingerprint:
    """The machine a worker runs on, as far as it bears on a memmap/RAM ratio."""

    hostname: str
    host_id: str  # one per running kernel: containers of one machine share it
    cpu_model: str
    cores: int
    memory_bytes: int
    kernel: str
    scratch: str
    filesystem: str
    device: str
    machine_type: str

    def record(self) -> dict[str, Any]:
        return asdict(self)


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo, else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Processor", "cpu model") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def host_id() -> str:
    """The kernel's boot id (shared by every container and worker on one machine), else the host name."""
    try:
        return BOOT_ID.read_text(encoding="ascii").strip() or socket.gethostname()
    except OSError:
        return socket.gethostname()


def mount_of(path: str | os.PathLike[str]) -> tuple[str, str]:
    """(file system type, device) of the mount holding ``path``: the longest mount point above it."""
    resolved = os.path.realpath(path)
    best = ("unknown", "unknown", "")
    for part in psutil.disk_partitions(all=True):
        point = part.mountpoint
        inside = resolved == point or resolved.startswith(point.rstrip("/") + "/")
        if inside and len(point) > len(best[2]):
            best = (part.fstype, part.device, point)
    return best[0], best[1]


def fingerprint(scratch: str | os.PathLike[str]) -> Fingerprint:
    """This process's machine, with the file system and device under ``scratch``."""
    filesystem, device = mount_of(scratch)
    cores = psutil.cpu_count(logical=True) or os.cpu_count() or 1
    model = cpu_model()
    kind = os.environ.get(MACHINE_TYPE_ENV, "").strip() or f"{model}, {cores} cores, {filesystem}"
    return Fingerprint(hostname=socket.gethostname(), host_id=host_id(), cpu_model=model, cores=cores,
                       memory_bytes=int(psutil.virtual_memory().total), kernel=platform.release(),
                       scratch=str(scratch), filesystem=filesystem, device=device, machine_type=kind)


@dataclass(frozen=True)
class EngineIdentity:
    """The engine a process imports: its git commit (None outside a checkout) and package version."""

    commit: str | None
    version: str | None

    def label(self) -> str:
        return self.commit or f"version {self.version}"


@functools.cache
def engine_identity() -> EngineIdentity:
    """What this process runs (asked once: the code a process imported does not change under it)."""
    return EngineIdentity(commit=git_commit(), version=package_version("farm_grids"))
