"""Faulty memmap backends for the self-test, registered through the store contract: one spins in proportion to its own time, one reads about twice the bytes it needs."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from farm_grids.config import MemmapConfig
from farm_grids.stores import MemmapStore, register_backend
from farm_grids.stores.base import GridStore
from farm_grids.stores.ram import RamStore
from farm_grids.stores.registry import backend_factory, find_manifest

# The public operations that read or write cells: the paths C4's workloads are timed on.
TIMED_OPS = ("get_window", "get_windows", "get_planned_windows", "get_cells", "add_many", "add_at", "fill",
             "scale", "scale_tiles", "write", "read", "flush")
REFERENCE = "ram"  # the backend every C4 ratio divides by
SCENARIO_NAMES = ("A/A", "1.1x", "1.5x", "2x-bytes")  # what register_scenarios() returns, in order
_UNSEEN_S = [0.0]  # what the wrapper costs a call outside its own clock (measured once, on a real read)


SPIN_BATCH_S = 50e-6  # spin owed time once this much has gathered: a spin's own cost is then negligible


def _instrumented(method: Callable[..., Any], factor: float, depth: list[int]) -> Callable[..., Any]:
    """``method`` timed; with factor > 1, (factor - 1) x (its time + the wrapper's) is owed and spun off
    in batches of SPIN_BATCH_S.

    A single-window read takes ~0.7-1.5 us and the wrapper ~0.3 us, so the wrapper alone would be
    a 1.2-1.4x slowdown: every side of a self-test ratio wears it, doing the same bookkeeping on
    every call (the RAM reference and the unchanged memmap at 1.0x, which never owe anything; see
    ``instrumented_reference``), and the spin scales the wrapped time, so the ratio moves by the
    factor and by nothing else. An overshot spin is credit for the next calls.
    """
    extra = factor - 1.0
    owed = [0.0]
    clock = time.perf_counter

    @functools.wraps(method)
    def timed(self: GridStore, *args: Any, **kwargs: Any) -> Any:
        start = clock()  # first: the wrapper's own bookkeeping is part of the time scaled
        if depth[0]:  # inside a timed call: part of that call's time
            return method(self, *args, **kwargs)
        depth[0] = 1
        try:
            result = method(self, *args, **kwargs)
        finally:
            depth[0] = 0
        now = clock()
        owed[0] += (now - start + _UNSEEN_S[0]) * extra
        if owed[0] > SPIN_BATCH_S:
            deadline = now + owed[0]
            while now < deadline:  # busy, like slower code: a sleep would yield the core
                now = clock()
            owed[0] = deadline - now  # the overshoot (negative) is credit for the next calls
        return result

    return timed


def instrumented_class(base: type[GridStore], factor: float) -> type[GridStore]:
    """A subclass of ``base`` whose timed operations wear the wrapper (spinning when ``factor`` > 1)."""
    if not _UNSEEN_S[0]:
        # The call into the wrapper and out of it, which its clock cannot see: about half of what
        # the wrapper costs a call (the other half, its bookkeeping, is on the clock).
        wrapper_s = _per_call_s(_instrumented(RamStore.get_window, 1.0, [0])) - _per_call_s(RamStore.get_window)
        _UNSEEN_S[0] = max(1e-9, wrapper_s / 2)
    depth = [0]
    methods = {op: _instrumented(getattr(base, op), factor, depth) for op in TIMED_OPS if hasattr(base, op)}
    return type(f"{base.__name__}x{factor:g}".replace(".", "_"), (base,), {"factor": factor, **methods})


def _per_call_s(get_window: Callable[..., Any], calls: int = 5_000) -> float:
    """Seconds per single-window read (13 x 13 of a 64 x 64 RAM grid) through ``get_window``, best of five."""
    store = RamStore(namespace="calibrate")
    try:
        store.create("G", (64, 64))
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(calls):
                get_window(store, "G", 10, 23, 10, 23)
            runs.append(time.perf_counter() - start)
        return min(runs) / calls
    finally:
        store.close_all()


@dataclass(frozen=True)
class Scenario:
    """One self-test scenario: the backend it measures and what was done to it."""

    name: str
    backend: str
    what: str
    slowdown: float = 1.0  # the injected time factor on the timed operations
    extra_reads: bool = False  # reads about twice the bytes it needs


def _memmap_factory(cls: type[GridStore], *, readahead: bool) -> Callable[..., GridStore]:
    """A backend factory like the built-in memmap one, building ``cls``; with ``readahead``, the
    prefetch is off and the kernel's normal readahead reads around every fault (the old path)."""

    def factory(config: MemmapConfig, *, namespace: str, simulation_id: str | None,
                storage_options: object = None) -> GridStore:
        reads = {"access": "normal", "prefetch": False} if readahead else {"access": config.access,
                                                                          "prefetch": config.prefetch}
        if config.mode != "w+":
            manifest = find_manifest(config.resolved_directory(), namespace, simulation_id)
            return cls.open(manifest, mode=config.mode, layout=config.layout, **reads)
        return cls(config.resolved_directory(), namespace=namespace, simulation_id=simulation_id,  # type: ignore[call-arg]
                   default_dtype=config.dtype, preallocate=config.preallocate, layout=config.layout,
                   tile_size=config.tile_size, **reads)

    return factory


def register_scenarios(slowdowns: tuple[float, ...] = (1.1, 1.5)) -> tuple[Scenario, ...]:
    """Register the scenario backends (idempotent) and return every scenario, A/A first."""
    register_backend("memmap-instrumented", _memmap_factory(instrumented_class(MemmapStore, 1.0), readahead=False),
                     replace=True)
    scenarios = [Scenario("A/A", "memmap-instrumented", "memmap unchanged (timed, never slowed)")]
    for factor in slowdowns:
        name = f"memmap-spin-{factor:g}x"
        register_backend(name, _memmap_factory(instrumented_class(MemmapStore, factor), readahead=False), replace=True)
        scenarios.append(Scenario(f"{factor:g}x", name, f"memmap spinning to {factor:g}x its own time on "
                                                        f"{len(TIMED_OPS)} timed operations", slowdown=factor))
    register_backend("memmap-readahead", _memmap_factory(MemmapStore, readahead=True), replace=True)
    scenarios.append(Scenario("2x-bytes", "memmap-readahead", "memmap with the prefetch off and normal "
                                                               "readahead: reads ~2.5x the pages it needs",
                              extra_reads=True))
    return tuple(scenarios)


@contextmanager
def instrumented_reference() -> Iterator[None]:
    """The RAM reference wearing the same wrapper (never slowed) while the block runs; restored after."""
    original = backend_factory(REFERENCE)
    cls = instrumented_class(RamStore, 1.0)

    def factory(config: MemmapConfig, *, namespace: str, simulation_id: str | None,
                storage_options: object = None) -> GridStore:
        return cls(namespace=namespace, simulation_id=simulation_id, default_dtype=config.dtype,  # type: ignore[call-arg]
                   layout=config.layout, tile_size=config.tile_size)

    register_backend(REFERENCE, factory, replace=True)
    try:
        yield
    finally:
        register_backend(REFERENCE, original, replace=True)
