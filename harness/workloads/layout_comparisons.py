"""Tiled vs row layout comparisons: every gated workload, the store gathers and single windows, memmap tiles32 vs rows, warm."""

from __future__ import annotations

import contextlib
from pathlib import Path

from harness.workloads.comparison_pairs import Builder, ComparisonPair, ComparisonSpec
from harness.workloads.micro import BATCH_CENTRES, SINGLE_READS
from harness.workloads.catalog import GATED_WORKLOADS, WORKLOADS, WorkloadParams, build_workload

__all__ = ["layout_specs"]

# Tiles may cost at most this much more than rows on a warm workload, and a single window 2x.
LAYOUT_MAX_RATIO = 1.5
SINGLE_WINDOW_MAX_RATIO = 2.0


def _layout_builder(name: str, tile_size: int = 32) -> Builder:
    """The memmap workload in the row layout (baseline) vs the same in ``tiles`` of ``tile_size`` (candidate)."""

    def build(size: int, directory: Path) -> ComparisonPair:
        with contextlib.ExitStack() as stack:
            rows = build_workload(name, "memmap", size, directory=directory)
            stack.callback(rows.close)
            tiles = build_workload(name, "memmap", size, directory=directory, layout="tiles",
                                   tile_size=min(tile_size, size))
            stack.callback(tiles.close)
            return ComparisonPair(rows.run, tiles.run, stack.pop_all())

    return build


def _units(name: str, size: int) -> tuple[int, str]:
    """Items one call of a gated workload handles, for the per-item times."""
    params = WorkloadParams("memmap", size)
    if name.endswith("_windows") and name != "batched_windows":
        return params.reads, "read"
    if name == "batched_windows":
        return params.agents, "window"
    return 1, "tick"


def layout_specs() -> list[ComparisonSpec]:
    """tiles32 vs rows on every validate workload at 1024 and 4096, the store's batched and single reads."""
    specs = [ComparisonSpec("single_window.tiles_vs_rows_memmap.1024", "store.get_window, memmap tiles32 vs rows, warm",
                            1024, _layout_builder("store_windows"), SINGLE_WINDOW_MAX_RATIO, SINGLE_READS, "read")]
    for size in (1024, 4096):
        specs.append(ComparisonSpec(f"batched_windows.tiles_vs_rows_memmap.{size}",
                                    "get_windows(out=), memmap tiles32 vs rows, warm", size,
                                    _layout_builder("store_batched_windows"), LAYOUT_MAX_RATIO, BATCH_CENTRES, "window"))
    agents = WorkloadParams("ram", 16).agents
    for size in (512, 1024, 4096):
        specs.append(ComparisonSpec(f"observe_all.tiles_vs_rows_memmap.{size}", "observe_all, memmap tiles32 vs rows, warm",
                                    size, _layout_builder("observe_all"), LAYOUT_MAX_RATIO, agents, "agent"))
    # The other rows `farm-harness validate` times (its C4 workloads), each in both layouts.
    for name in (name for name in GATED_WORKLOADS if name != "observe_all"):
        for size in (1024, 4096):
            units, unit = _units(name, size)
            specs.append(ComparisonSpec(f"gated.{name}.tiles_vs_rows_memmap.{size}",
                                        f"{WORKLOADS[name].description}, memmap tiles32 vs rows, warm", size,
                                        _layout_builder(name), LAYOUT_MAX_RATIO, units, unit))
    return specs
