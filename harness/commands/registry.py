"""The registry of farm-harness's built-in commands: name -> the module that owns its options, its run and its help."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from harness.errors import HarnessUsageError


@dataclass(frozen=True)
class Builtin:
    """A subcommand of this package: the module that owns its options and its run, and one line of help."""

    module: str
    help: str
    extra: str | None = None  # the optional extra whose packages the command needs

    def load(self) -> ModuleType:
        try:
            return importlib.import_module(self.module)
        except ModuleNotFoundError as exc:
            # A missing optional package is the install's choice, not a bug: say which extra brings it.
            if self.extra is None or (exc.name or "").startswith(("harness", "farm_grids", "reports")):
                raise
            raise HarnessUsageError(f"needs the {exc.name!r} package: pip install 'farm-grids[{self.extra}]'") from exc


# A command's module is imported only when that command runs: `farm-harness --help` and a
# usage error then cost no torch, scipy or engine import (about 3 s here).
COMMANDS: dict[str, Builtin] = {
    "validate": Builtin("harness.commands.validate", "run the acceptance criteria C1..C9 and print the verdict"),
    "memory": Builtin("harness.commands.memory", "measure anonymous and file-backed memory per grid size"),
    "coldcache": Builtin("harness.commands.coldcache", "time windows after evicting grid files from the page cache"),
    "outofcore": Builtin("harness.commands.outofcore", "cold batched gathers per layout/prefetch/access, frontier ticks (C9)"),
    "profile": Builtin("harness.commands.profile", "run a workload under memray; separate MMAP records from heap"),
    "selftest": Builtin("harness.commands.selftest", "A/A and injected slowdowns: the gate's false-alarm rate and power"),
    "clean": Builtin("harness.commands.clean", "remove stale grid files and scratch directories"),
    "gate": Builtin("harness.commands.gate", "judge memmap/RAM pairs in a pytest-benchmark JSON file"),
    "compare": Builtin("harness.commands.compare", "time the named engine-vs-reference speed comparisons"),
    "bench-ci": Builtin("harness.commands.bench_ci", "the benchmark job: asv base vs head, validate and the gate, one summary"),
    "instructions": Builtin("harness.commands.instructions", "count instructions per call of the CPU-bound workloads "
                            "under valgrind"),
    "matrix": Builtin("harness.commands.matrix", "judge a spec's whole matrix of cells on a Dask cluster, one report",
                      extra="cluster"),
    "objectstore": Builtin("harness.commands.objectstore", "S3 snapshot/restore, cold first tick vs the raw GET/PUT floor; warm zarr/RAM",
                           extra="zarr"),
}
