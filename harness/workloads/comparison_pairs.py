"""What a speed comparison is: two callables doing the same work, how they are built, and the target they meet."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.workloads.catalog import Workload, build_workload

__all__ = ["Builder", "ComparisonPair", "ComparisonSpec", "Method", "across_backends", "builder"]


@dataclass
class ComparisonPair:
    """A built comparison: two callables doing the same work, and the stack that cleans up after them."""

    baseline: Callable[[], object]
    candidate: Callable[[], object]
    cleanup: contextlib.ExitStack  # closing it closes the workloads and removes their files


Builder = Callable[[int, Path], ComparisonPair]


Method = Callable[[Workload], Callable[[], object]]


def builder(name: str, backend: str | None = None, baseline: Method | None = None,
             candidate: Method | None = None) -> Builder:
    """Without ``baseline``: the RAM workload vs the memmap one; with it: ``baseline(w)`` vs
    ``candidate(w)`` (default ``w.run``) on ``backend``."""

    def build(size: int, directory: Path) -> ComparisonPair:
        with contextlib.ExitStack() as stack:

            def built(on: str) -> Workload:
                workload = build_workload(name, on, size, directory=directory)
                stack.callback(workload.close)
                return workload

            if baseline is None:
                return ComparisonPair(built("ram").run, built("memmap").run, stack.pop_all())
            workload = built(backend or "ram")
            chosen = workload.run if candidate is None else candidate(workload)
            return ComparisonPair(baseline(workload), chosen, stack.pop_all())

    return build


def across_backends(method: Method, name: str = "observe_all") -> Builder:
    """``method`` on the RAM workload (baseline) vs ``method`` on the memmap one (candidate)."""

    def build(size: int, directory: Path) -> ComparisonPair:
        with contextlib.ExitStack() as stack:
            sides = []
            for backend in ("ram", "memmap"):
                workload = build_workload(name, backend, size, directory=directory)
                stack.callback(workload.close)
                sides.append(method(workload))
            return ComparisonPair(sides[0], sides[1], stack.pop_all())

    return build


@dataclass(frozen=True)
class ComparisonSpec:
    """One named comparison: what is compared, at what size, and the target it must meet."""

    name: str
    description: str
    size: int
    build: Builder
    max_ratio: float  # candidate/baseline must stay below; a "k x faster" target is 1/k
    units: int  # items one call handles (reads, windows, events, agents, ticks)
    unit: str
    per_unit_limit_s: float | None = None  # optional limit on the candidate's time per item
    min_block_s: float = 0.010  # lower for big speed-ups: both sides run the fast side's iteration count

    @property
    def target(self) -> str:
        ratio = f"<= {self.max_ratio:g}x" if self.max_ratio >= 1 else f">= {1 / self.max_ratio:g}x faster"
        limit = "" if self.per_unit_limit_s is None else f"; <= {self.per_unit_limit_s * 1e6:g} us/{self.unit}"
        return ratio + limit
