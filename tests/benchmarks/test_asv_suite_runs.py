"""Every asv benchmark runs once from pytest (setup, each benchmark method once, teardown), so a broken one fails here."""

from __future__ import annotations

import importlib
import inspect
import itertools
import math
import pkgutil
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # plain `pytest` (not `python -m pytest`) does not put the checkout first
    sys.path.insert(0, str(ROOT))

import benchmarks  # noqa: E402
from benchmarks import common  # noqa: E402

PREFIXES = ("time_", "timeraw_", "mem_", "peakmem_", "track_")


def benchmark_classes() -> list[type]:
    found = []
    for module_info in pkgutil.iter_modules(benchmarks.__path__):
        if not module_info.name.startswith("bench_"):
            continue
        module = importlib.import_module(f"benchmarks.{module_info.name}")
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and not name.startswith("_") and not inspect.isabstract(cls) \
                    and any(attr.startswith(PREFIXES) for attr in dir(cls)):
                found.append(cls)
    return found


def cases() -> list[Any]:
    """One case per class and combination of its parameters, at its smallest size that is not slow-only."""
    params = []
    for cls in benchmark_classes():
        names, grid = list(getattr(cls, "param_names", [])), [list(p) for p in getattr(cls, "params", [])]
        if "size" in names:
            k = names.index("size")
            grid[k] = [min(s for s in grid[k] if s not in common.SLOW_SIZES)]
        for combo in itertools.product(*grid):
            label = f"{cls.__module__.split('.')[-1]}.{cls.__name__}({', '.join(map(str, combo))})"
            params.append(pytest.param(cls, combo, id=label))
    return params


def test_the_asv_suite_is_found() -> None:
    names = {cls.__name__ for cls in benchmark_classes()}
    assert {"SingleWindow", "ObserveAll", "DecayDense", "WritePath", "WindowRatios"} <= names
    assert len(cases()) >= 30


@pytest.mark.parametrize(("cls", "combo"), cases())
def test_each_asv_benchmark_runs_once(cls: type, combo: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    # A ratio track times paired blocks for RATIO_BUDGET_S; once is enough here (>= 5 pairs regardless).
    monkeypatch.setattr(common, "RATIO_BUDGET_S", 0.02)
    bench = cls()
    methods = sorted(attr for attr in dir(cls) if attr.startswith(PREFIXES))
    try:
        bench.setup(*combo)
    except NotImplementedError as exc:  # asv's skip idiom
        pytest.skip(f"asv skips this combination: {exc}")
    scratch = getattr(bench, "scratch", None)
    try:
        for method in methods:
            value = getattr(bench, method)(*combo)
            if method.startswith("track_"):
                assert isinstance(value, (int, float)) and math.isfinite(value), f"{method} gave {value!r}"
                if method == "track_memmap_over_ram":
                    assert value > 0
    finally:
        teardown = getattr(bench, "teardown", None)  # optional in asv, as setup is
        if teardown is not None:
            teardown(*combo)
    assert scratch is None or not Path(scratch).exists(), "teardown left the scratch directory"
