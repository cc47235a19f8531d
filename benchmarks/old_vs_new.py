"""Two checkouts' engines timed in one process: every validate workload, old tree vs new, paired.

    python benchmarks/old_vs_new.py OLD_TREE NEW_TREE OUT_DIR [SIZES]     # e.g. 1024,4096

OLD_TREE's ``farm_grids`` and ``harness`` are copied to OUT_DIR as ``farm_grids_old`` and
``harness_old`` (imports renamed), so both engines load side by side. Each workload is built by
each tree's own ``build_workload`` and timed with NEW_TREE's ``measure_paired`` (interleaved,
randomly ordered blocks), so machine drift hits both sides alike: the figure is new/old with its
95 % interval. Not an asv benchmark (nothing here is discovered: no class, no ``time_``).
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

WORKLOADS = ("resource_windows", "environmental_windows", "temporal_windows", "batched_windows",
             "temporal_decay", "observe_all", "write_path")


def _renamed_copy(tree: Path, out: Path) -> Path:
    """``tree``'s packages as ``*_old`` under ``out/oldpkg``, every import of them renamed."""
    package_root = out / "oldpkg"
    shutil.rmtree(package_root, ignore_errors=True)
    for name in ("farm_grids", "harness"):
        shutil.copytree(tree / name, package_root / f"{name}_old", ignore=shutil.ignore_patterns("__pycache__"))
    for path in package_root.rglob("*.py"):
        text = path.read_text()
        text = re.sub(r"\bfarm_grids\b(?=[.\s,;)]|$)", "farm_grids_old", text, flags=re.M)
        text = re.sub(r"(?<![-\w])harness\b(?=\.)", "harness_old", text)
        text = re.sub(r"^(\s*)from harness import", r"\1from harness_old import", text, flags=re.M)
        path.write_text(text)
    return package_root


def main(argv: list[str]) -> int:
    old_tree, new_tree, out = (Path(arg).resolve() for arg in argv[:3])
    sizes = [int(size) for size in argv[3].split(",")] if len(argv) > 3 else [1024]
    sys.path[:0] = [str(new_tree), str(_renamed_copy(old_tree, out))]
    from harness.probes.timing import measure_paired
    from harness.workloads.catalog import build_workload as build_new
    from harness_old.workloads import build_workload as build_old  # type: ignore[import-not-found]

    rows = []
    for size in sizes:
        for name in WORKLOADS:
            for backend in ("ram", "memmap"):
                old, new = build_old(name, backend, size), build_new(name, backend, size)
                try:
                    timing = measure_paired(old.run, new.run, workload=f"{name}.{backend}.{size}", blocks=40,
                                            time_budget_s=12)
                finally:
                    old.close()
                    new.close()
                rows.append({"workload": name, "backend": backend, "size": size, "ratio": timing.ratio,
                             "ci_low": timing.ci_low, "ci_high": timing.ci_high})
                print(f"{name:24s} {backend:7s} {size:5d}  new/old {timing.ratio:.3f} "
                      f"[{timing.ci_low:.3f}, {timing.ci_high:.3f}]", flush=True)
    (out / "old_vs_new.json").write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
