"""Seven hand-made mutations of the engine, each applied in a scratch copy and run against the test named to catch it."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Where each mutated piece of code lives: the one table to update when a module moves.
SOURCES = {
    "memmap store": "farm_grids/stores/memmap/store.py",
    "environment": "farm_grids/environment.py",
    "channels": "farm_grids/observe/default_channels.py",
    "agents": "farm_grids/agents.py",
    "dense store": "farm_grids/stores/dense.py",
}


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


MUTANTS = (
    Mutant("memmap flush does nothing", SOURCES["memmap store"],
           "        if entry.state is not None:\n            entry.state.flush()",
           "        pass",
           ("tests/reliability/test_durability.py::test_flush_puts_a_grid_on_the_device_not_only_in_the_page_cache",)),
    Mutant('flush_policy="tick" ignored', SOURCES["environment"],
           'if self.config.memmap.flush_policy == "tick":', 'if False:',
           ("tests/reliability/test_durability.py::test_flush_policy_tick_makes_every_tick_durable",)),
    Mutant("TERRAIN_COST reads OBSTACLES", SOURCES["channels"],
           'partial(_environmental, "TERRAIN_COST")', 'partial(_environmental, "OBSTACLES")',
           ("tests/environment/test_channel_meaning.py::test_every_channel_with_every_layer_set",)),
    Mutant("KNOWN_EMPTY ignores obstacles", SOURCES["channels"],
           '_OCCUPANCY_CHANNELS = ("RESOURCES", "OBSTACLES", "ALLIES_HP", "ENEMIES_HP", "SELF_HP")',
           '_OCCUPANCY_CHANNELS = ("RESOURCES", "ALLIES_HP", "ENEMIES_HP", "SELF_HP")',
           ("tests/environment/test_channel_meaning.py::test_known_empty_excludes_obstacles_resources_and_agents",)),
    Mutant("HP rasters never clear old cells", SOURCES["agents"],
           "self.store.add_many(self.grid_name(team), ys, xs, 0.0, accumulate=False)", "pass",
           ("tests/environment/test_channel_meaning.py::test_moves_kills_and_hp_changes_leave_no_ghosts_over_several_ticks",)),
    Mutant("in-bounds get_window shortcut accepts y1 = height + 1", SOURCES["dense store"],
           "0 <= y0 <= y1 <= height\n", "0 <= y0 <= y1 <= height + 1\n",
           ("tests/stores/test_ram_store.py::TestRamStore::test_get_window_equals_the_naive_zero_padded_reference",)),
    Mutant("memmap store serves a RAM copy, never writes its file", SOURCES["memmap store"],
           "mapped.buffer(dtype, cells), path, mapped)", "np.array(mapped.buffer(dtype, cells)), path, mapped)",
           ("tests/environment/test_observe.py::test_ram_and_memmap_bitwise_equal_over_20_ticks",)),
)


def run(mutant: Mutant, scratch: Path) -> tuple[str, str]:
    """Copy the checkout, apply ``mutant``, run its tests; returns (outcome, the pytest summary line)."""
    if scratch.exists():
        shutil.rmtree(scratch)
    shutil.copytree(ROOT, scratch, ignore=shutil.ignore_patterns(".venv*", ".git", ".hypothesis", "__pycache__",
                                                                 ".asv", "farm-harness-out"))
    target = scratch / mutant.path
    source = target.read_text()
    assert source.count(mutant.old) == 1, f"{mutant.name}: the original text is not in {mutant.path} exactly once"
    target.write_text(source.replace(mutant.old, mutant.new))
    # cwd first on sys.path (python -m), so the scratch copy's farm_grids is the one imported.
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *mutant.tests],
                          cwd=scratch, capture_output=True, text=True, check=False)
    summary = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
    outcome = {0: "SURVIVED", 1: "KILLED"}.get(done.returncode, f"ERROR rc={done.returncode}")
    return outcome, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", help="run the mutants whose name contains this text")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="farm-known-mutants-")) / "checkout"
    survived = 0
    try:
        for mutant in MUTANTS:
            if args.only and args.only not in mutant.name:
                continue
            outcome, summary = run(mutant, scratch)
            survived += outcome != "KILLED"
            print(f"{outcome:8} {mutant.name}: {mutant.tests[0]} -> {summary}", flush=True)
    finally:
        shutil.rmtree(scratch.parent, ignore_errors=True)
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
