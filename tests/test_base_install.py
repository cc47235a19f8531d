"""The base install (no extras) runs a world and loads every harness command: the zarr extra's libraries stay optional."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# What `farm-grids[zarr]` brings (the cluster and dev extras' libraries are never imported at start-up either).
EXTRA_ONLY = ("zarr", "s3fs", "google_crc32c", "zstandard", "numcodecs", "distributed", "tensorstore")

# A child interpreter in which importing any of EXTRA_ONLY fails, as on a machine without the extra.
CHILD = textwrap.dedent("""
    import importlib.abc, sys
    BLOCKED = set(sys.argv[1].split(","))

    class Absent(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r} (blocked: not in the base install)", name=name)
            return None

    sys.meta_path.insert(0, Absent())
    from farm_grids import Environment, SimulationConfig
    from farm_grids.sim import WorkloadDriver
    with Environment(SimulationConfig(width=64, height=64, seed=1)) as env:
        WorkloadDriver(env, 8, seed=2).run(2)
        env.observe_all()
    from harness.commands.registry import COMMANDS
    from harness.errors import HarnessUsageError
    for name, command in COMMANDS.items():
        try:
            command.load()
        except HarnessUsageError as exc:  # a command of an extra says which extra to install
            assert command.extra and command.extra in str(exc), (name, exc)
    print("ok", len(COMMANDS))
""")


def run_child(blocked: tuple[str, ...], code: str = CHILD) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, ",".join(blocked)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_a_world_and_every_command_load_without_the_zarr_extra() -> None:
    result = run_child(EXTRA_ONLY)
    assert result.returncode == 0 and result.stdout.startswith("ok"), result.stderr[-3000:]


def test_the_child_does_block_an_extra() -> None:
    result = run_child(("zarr",), CHILD + "\nimport zarr\n")
    assert result.returncode != 0 and "blocked" in result.stderr


@pytest.mark.parametrize("module", ["farm_grids.snapshot_record", "farm_grids.snapshot", "farm_grids.environment"])
def test_the_engine_modules_a_world_needs_import_without_the_extra(module: str) -> None:
    result = run_child(EXTRA_ONLY, CHILD.split("from farm_grids import")[0] + f"\nimport {module}\n")
    assert result.returncode == 0, result.stderr[-3000:]
