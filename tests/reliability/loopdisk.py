"""An ext4 filesystem on a loop device whose device contents can be copied as a power cut would leave them."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

__all__ = ["LoopDisk", "loop_disk_unavailable"]

_TOOLS = ("losetup", "mkfs.ext4", "mount", "umount")
# data=writeback: no journal commit ever forces another file's data out (data=ordered may), so
# the only way a grid's pages reach the device within a test is that grid's own msync/fsync.
# commit=300: no periodic journal commit during a test either.
MOUNT_OPTIONS = "data=writeback,commit=300"


def _run(*command: str) -> str:
    done = subprocess.run(list(command), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise OSError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout.strip()


def loop_disk_unavailable() -> str | None:
    """Why a loop-device filesystem cannot be made here, or None when it can."""
    if os.geteuid() != 0:
        return "needs root (losetup and mount)"
    missing = [tool for tool in _TOOLS if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not installed"
    if not Path("/dev/loop-control").exists():
        return "no /dev/loop-control: this kernel or container has no loop devices"
    return None


class LoopDisk:
    """``image`` (a sparse file) formatted ext4, attached to a loop device and mounted at ``mount_point``.

    The loop device is the disk; ``image`` is its medium. What the kernel has submitted to
    the device is in ``image``; what is only dirty in the mounted filesystem's page cache is
    not. ``power_cut_copy`` copies ``image`` while the filesystem stays mounted, so the copy
    holds exactly what had reached the device at that moment.
    """

    def __init__(self, image: Path, mount_point: Path, *, size_mib: int = 64, fresh: bool = True,
                 options: str = MOUNT_OPTIONS) -> None:
        self.image, self.mount_point = image, mount_point
        self.device: str | None = None
        if fresh:
            with open(image, "wb") as handle:
                handle.truncate(size_mib * 2**20)
            # No lazy init: nothing may write to the device in the background during a test.
            _run("mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0", str(image))
        self.device = _run("losetup", "--find", "--show", str(image))
        try:
            mount_point.mkdir(parents=True, exist_ok=True)
            _run("mount", "-t", "ext4", "-o", options, self.device, str(mount_point))
        except BaseException:
            _run("losetup", "-d", self.device)
            self.device = None
            raise

    def power_cut_copy(self, image: Path, mount_point: Path) -> LoopDisk:
        """Copy the device's medium now, then mount the copy (ext4 replays its journal) at ``mount_point``.

        Neither ``umount`` nor ``blockdev --flushbufs`` may come first: both sync the mounted
        filesystem, writing back the very pages whose absence the copy must show.
        """
        with open(self.image, "rb") as source, open(image, "wb") as target:
            shutil.copyfileobj(source, target, 4 * 2**20)
        return LoopDisk(image, mount_point, fresh=False, options="data=writeback")

    def close(self) -> None:
        """Unmount and detach (lazily, if a leaked child still holds a file)."""
        if self.device is None:
            return
        done = subprocess.run(["umount", str(self.mount_point)], capture_output=True, check=False)
        if done.returncode != 0:
            subprocess.run(["umount", "-l", str(self.mount_point)], capture_output=True, check=False)
        subprocess.run(["losetup", "-d", self.device], capture_output=True, check=False)
        self.device = None
