"""The self-test's faulty backends: registered through the store contract, equal to memmap in what they
return, slower on the timed operations by about their factor, or reading more pages than needed."""

from __future__ import annotations

import time

import numpy as np
import pytest

from farm_grids.config import MemmapConfig
from farm_grids.stores import MemmapStore, backend_names, build_store
from harness.probes import process_stats as procstats
from harness.probes.cold_gather import GatherSetting, build_dense_grid, measure_cold_gather
from harness.workloads.injected_backends import SCENARIO_NAMES, TIMED_OPS, _instrumented, instrumented_reference, register_scenarios
from farm_grids.stores.ram import RamStore


@pytest.fixture(scope="module")
def scenarios():
    return {s.name: s for s in register_scenarios()}


def _store(backend: str, directory) -> MemmapStore:
    return build_store(backend, MemmapConfig(backend=backend, directory=str(directory)), namespace="t")  # type: ignore[return-value]


def test_every_scenario_is_a_registered_backend_built_on_memmap(scenarios, tmp_path) -> None:
    assert tuple(scenarios) == SCENARIO_NAMES
    for scenario in scenarios.values():
        assert scenario.backend in backend_names()
        store = _store(scenario.backend, tmp_path)
        try:
            assert isinstance(store, MemmapStore)
        finally:
            store.close_all(delete_files=True)
    spin = _store(scenarios["1.5x"].backend, tmp_path)
    assert type(spin).factor == 1.5 and type(_store(scenarios["A/A"].backend, tmp_path / "aa")).factor == 1.0
    spin.close_all(delete_files=True)


def test_the_reference_wears_the_same_wrapper_only_inside_the_block(tmp_path) -> None:
    def reference():
        return build_store("ram", MemmapConfig(), namespace="ref")

    with instrumented_reference():
        wrapped = reference()
        assert isinstance(wrapped, RamStore) and type(wrapped).factor == 1.0
        wrapped.create("G", (8, 8))
        assert wrapped.get_window("G", 0, 3, 0, 3).shape == (3, 3)
    assert type(reference()) is RamStore


def test_the_spinning_store_returns_what_memmap_returns(scenarios, tmp_path) -> None:
    plain, slow = _store("memmap", tmp_path / "a"), _store(scenarios["1.5x"].backend, tmp_path / "b")
    try:
        for store in (plain, slow):
            store.create("G", (256, 256))
            store.write("G", np.arange(256 * 256, dtype=np.float32).reshape(256, 256))
        ys, xs = np.arange(10, 200, 7), np.arange(20, 210, 7)
        assert np.array_equal(plain.get_windows("G", ys, xs, 3), slow.get_windows("G", ys, xs, 3))
        assert "get_windows" in TIMED_OPS and "flush" in TIMED_OPS
    finally:
        plain.close_all(delete_files=True)
        slow.close_all(delete_files=True)


@pytest.mark.parametrize("factor", [1.1, 1.5])
def test_a_wrapped_operation_takes_its_factor_of_its_own_time(factor) -> None:
    """A 2 ms operation (a sleep: its time does not depend on the CPU it gets) wrapped at ``factor``:
    the spin adds (factor - 1) x its time, so the calls take at least factor x their own time
    (more under load: a spin that loses the core is paid for, never refunded below that)."""

    class Operation:
        def op(self) -> None:
            time.sleep(0.002)

    wrapped, target, calls = _instrumented(Operation.op, factor, [0]), Operation(), 20
    own = []
    start = time.perf_counter()
    for _ in range(calls):
        before = time.perf_counter()
        Operation.op(target)
        own.append(time.perf_counter() - before)
    bare = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(calls):
        wrapped(target)
    slowed = time.perf_counter() - start
    assert slowed >= (factor - 0.02) * calls * 0.002  # a sleep lasts at least what it asks
    assert bare >= calls * 0.002 and min(own) >= 0.002


def test_the_readahead_backend_reads_well_beyond_the_pages_a_cold_gather_needs(scenarios, tmp_path) -> None:
    manifest, path = build_dense_grid(tmp_path, 2048, "tiles32")
    ratios = {}
    for name in ("A/A", "2x-bytes"):
        gather = measure_cold_gather(manifest, path, 2048, GatherSetting("tiles32"), trials=1, windows=2000,
                                     backend=scenarios[name].backend)
        if not gather.eviction_effective or gather.read_ratios is None:
            pytest.skip("eviction is not effective here (nothing read from disk)")
        ratios[name] = gather.read_ratios[0]
    assert ratios["A/A"] <= 1.05 and ratios["2x-bytes"] > 1.5
    assert procstats.evict_from_page_cache(path)
