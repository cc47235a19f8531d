"""Run mutmut survivors against the tests its per-mutant selection leaves out (child processes, ext4, S3).

mutmut activates a mutant in its trampolined copy (``mutants/``) through ``MUTANT_UNDER_TEST``; a child
interpreter inherits it and imports the same copy, so these tests see the mutant too. A verdict lands in
``mutants/recheck.json``, which ``mutmut_sample.py --tally`` reads. See TESTING.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MUTANTS = ROOT / "mutants"
VERDICTS = MUTANTS / "recheck.json"
# Which left-out tests can see a module's mutants (the rest of the suite already ran in the selection).
LEFT_OUT = {
    "farm_grids.stores.memmap.cleanup": ["tests/reliability/test_cleanup_namespaces.py", "tests/stores/memmap/test_processes.py"],
    "farm_grids.stores.memmap.locks": ["tests/reliability/test_writer_lock.py", "tests/stores/memmap/test_processes.py"],
    "farm_grids.stores.tiled": ["tests/objectstore/test_zarr_store.py"],
    "farm_grids.stores.memmap.manifest": ["tests/reliability/test_crash_consistency.py", "tests/stores/memmap/test_processes.py"],
}
# test_disk_full is in the selection, but its operations run in a child on a full tmpfs: mutmut
# cannot see which functions they call, so a mutant there is rechecked against it too.
DEFAULT = ["tests/stores/memmap/test_processes.py", "tests/reliability/test_writer_lock.py",
           "tests/reliability/test_crash_consistency.py", "tests/reliability/test_durability.py",
           "tests/reliability/test_disk_full.py"]


def tests_for(name: str) -> list[str]:
    return next((tests for module, tests in LEFT_OUT.items() if name.startswith(module + ".")), DEFAULT)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="+")
    parser.add_argument("--tests", nargs="*", help="override the tests to run")
    parser.add_argument("--added", action="store_true", help="the tests were added after the mutmut run (to kill it)")
    args = parser.parse_args()
    for name in args.names:
        tests = args.tests or tests_for(name)
        env = dict(os.environ, MUTANT_UNDER_TEST=name, FARM_MUTATION="1")
        done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
                              cwd=MUTANTS, env=env, capture_output=True, text=True, check=False)
        verdict = {0: "survived", 1: "killed"}.get(done.returncode, f"error {done.returncode}")
        failed = next((line for line in done.stdout.splitlines() if line.startswith("FAILED")), "")
        # Read again just before writing: another recheck may have recorded verdicts meanwhile.
        verdicts = json.loads(VERDICTS.read_text()) if VERDICTS.exists() else {}
        verdicts[name] = {"verdict": verdict, "tests": tests, "by": failed.removeprefix("FAILED ").split(" - ")[0],
                          "added": args.added}
        VERDICTS.write_text(json.dumps(verdicts, indent=1, sort_keys=True))
        print(f"{verdict:8} {name} {failed}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
