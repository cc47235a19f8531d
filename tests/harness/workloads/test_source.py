"""asv benchmark versions follow the timed workload's source and the asv class, never the engine's source."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from benchmarks import bench_environmental, bench_observe, bench_temporal, bench_windows, bench_write
from benchmarks.common import series_version
from harness.workloads.source import WORKLOAD_MODULES, module_source, source_closure, workload_definitions

ROOT = Path(__file__).resolve().parents[3]
BENCH_MODULES = (bench_environmental, bench_observe, bench_temporal, bench_windows, bench_write)
ALL_MODULES = (*WORKLOAD_MODULES, "benchmarks.common", *(m.__name__ for m in BENCH_MODULES))


def asv_classes() -> list[type]:
    return [cls for module in BENCH_MODULES for cls in vars(module).values()
            if isinstance(cls, type) and cls.__module__ == module.__name__ and "version" in vars(cls)]


def sources() -> dict[str, str]:
    return {name: module_source(name) for name in ALL_MODULES}


def edited(texts: dict[str, str], module: str, old: str, new: str) -> dict[str, str]:
    assert texts[module].count(old) == 1, f"{old!r} is not once in {module}"
    return {**texts, module: texts[module].replace(old, new)}


def versions(texts: dict[str, str] | None = None) -> dict[str, str]:
    return {cls.__qualname__: series_version(cls, texts) for cls in asv_classes()}


def test_every_asv_class_has_a_version_naming_its_workloads() -> None:
    found = {cls.__qualname__: cls.version for cls in asv_classes()}
    assert {"SingleWindow", "ObserveAll", "WindowRatios", "WritePath", "DecaySparseActive"} <= set(found)
    assert found["SingleWindow"].startswith("store_windows/")
    assert found["WindowRatios"].startswith("store_windows+store_batched_windows+batched_windows/")
    assert len(set(found.values())) == len(found)  # no two classes share a series
    assert found == versions()  # what asv reads is what the function computes


def test_a_workload_closure_holds_its_class_bases_and_helpers_but_no_engine() -> None:
    names = {(d.module, d.name) for d in workload_definitions("temporal_windows")}
    assert ("harness.workloads.catalog", "TemporalWindows") in names
    assert ("harness.workloads.catalog", "_SingleWindowReads") in names
    assert ("harness.workloads.catalog", "_dense_temporal") in names
    assert ("harness.workloads.base", "Workload") in names and ("harness.workloads.base", "WorkloadParams") in names
    assert ("harness.workloads.catalog", "WORKLOADS") not in names  # the registry would tie every workload to all
    assert not any(module.startswith("farm_grids") for module, _ in names)
    assert ("harness.workloads.catalog", "ObserveAll") not in names


def test_editing_a_workload_changes_the_versions_of_what_runs_it_only() -> None:
    texts = sources()
    before = versions(texts)
    after = versions(edited(texts, "harness.workloads.micro", "        read, last = self.store.get_window, None\n",
                            "        read, last = self.store.get_window, None\n"
                            "        last = read(GRID, 0, 1, 0, 1)\n"))
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"SingleWindow", "WindowRatios"}


def test_editing_what_workloads_build_on_changes_every_user() -> None:
    texts = sources()
    before = versions(texts)
    after = versions(edited(texts, "harness.workloads.base", "    reads: int = 256", "    reads: int = 512"))
    assert all(before[name] != after[name] for name in before)  # every workload takes WorkloadParams


def test_editing_the_asv_class_changes_its_version() -> None:
    texts = sources()
    before = versions(texts)
    after = versions(edited(texts, "benchmarks.bench_temporal", "    params = [list(BACKENDS), [1024, 8192]]",
                            "    params = [list(BACKENDS), [1024, 4096]]"))
    assert {name for name in before if before[name] != after[name]} == {"DecaySparseActive"}


def test_the_closure_follows_imports_between_the_modules() -> None:
    found = source_closure(("m.a", "Top"), ("m.a", "m.b"), {
        "m.a": "from m.b import helper as h\nclass Top:\n    def run(self):\n        return h()\n",
        "m.b": "LIMIT = 3\ndef helper():\n    return LIMIT\ndef unused():\n    return 0\n",
    })
    assert [(d.module, d.name) for d in found] == [("m.a", "Top"), ("m.b", "LIMIT"), ("m.b", "helper")]


ENGINE_EDITS = {  # engine-only edits that change what is timed, but not what a workload is
    "farm_grids/stores/dense.py": ("                    return array[y0:y1, x0:x1].copy()\n",
                                   "                    array[y0:y1, x0:x1].copy()\n"
                                   "                    return array[y0:y1, x0:x1].copy()\n"),
    "farm_grids/windows.py": ("def read_window(",
                              "def _added_by_the_test() -> int:\n    return 1\n\n\ndef read_window("),
}
# One fresh interpreter over the copied tree: versions, then each stage's edits applied on disk
# and the versions computed again (series_version reads the files afresh, as a new asv run would).
STAGES_SCRIPT = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from benchmarks import bench_environmental, bench_observe, bench_temporal, bench_windows, bench_write
    from benchmarks.common import series_version
    classes = [c for m in (bench_environmental, bench_observe, bench_temporal, bench_windows, bench_write)
               for c in vars(m).values() if isinstance(c, type) and c.__module__ == m.__name__ and "version" in vars(c)]
    assert all(c.version == series_version(c) for c in classes)
    out = []
    for stage in [[]] + json.loads(sys.argv[1]):
        for relative, old, new in stage:
            path = Path(relative)
            text = path.read_text()
            assert text.count(old) == 1, relative
            path.write_text(text.replace(old, new))
        out.append({c.__qualname__: series_version(c) for c in classes})
    print(json.dumps(out))
""")


@pytest.mark.slow
def test_in_a_copied_tree_an_engine_edit_keeps_every_version_and_a_workload_edit_does_not(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    for package in ("farm_grids", "harness", "benchmarks"):
        shutil.copytree(ROOT / package, tree / package, ignore=shutil.ignore_patterns("__pycache__"))
    engine = [[relative, old, new] for relative, (old, new) in ENGINE_EDITS.items()]
    workload = [["harness/workloads/catalog.py", "driver.run(3)", "driver.run(4)"]]
    done = subprocess.run([sys.executable, "-c", STAGES_SCRIPT, json.dumps([engine, workload])], cwd=tree,
                          env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    original, after_engine, after_workload = json.loads(done.stdout.strip().splitlines()[-1])
    assert "farm_grids" not in original  # (names only) and the edits really landed in the engine:
    assert "array[y0:y1, x0:x1].copy()\n                    return" in (tree / "farm_grids/stores/dense.py").read_text()
    assert after_engine == original
    changed = {name for name, version in after_workload.items() if version != original[name]}
    assert changed == {"ObserveAll", "ObserveAllRatio", "WritePath", "WritePathRatio"}
