"""Every named comparison: engine workloads against numpy floors and references, with their targets."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from farm_grids.managers import ENVIRONMENTAL_LAYERS, TEMPORAL_CHANNELS
from harness.workloads.catalog import BACKENDS, Workload, WorkloadParams
from harness.workloads.comparison_pairs import ComparisonSpec, across_backends, builder
from harness.workloads.layout_comparisons import layout_specs
from harness.workloads.micro import BATCH_CENTRES, DEPOSIT_EVENTS, SINGLE_READS


def _observe_each(workload: Workload) -> Callable[[], object]:
    env = workload.env  # the observe_all workload always has one

    def observe_every_agent() -> None:
        for agent in range(env.num_agents):
            env.observe(agent)

    return observe_every_agent


def _written_layer_gathers(workload: Workload) -> Callable[[], object]:
    """``_plain_layer_gathers`` over copies of the grids: the same values, every page written."""
    return _plain_layer_gathers(workload, written=True)


def _plain_layer_gathers(workload: Workload, *, written: bool = False) -> Callable[[], object]:
    """The floor of an ``observe_all`` pass: plain numpy window gathers of every grid the pass
    reads (world layers, resources, temporal channels with data, team HP rasters) into a
    reused (N, C, S, S) buffer. No channel logic, masks or edge padding: centres are clipped
    to the interior so every window is one fancy-index copy. ``written``: gather from copies,
    whose every page is a real one (no read of the kernel's zero page)."""
    env = workload.env
    env.hp_raster.refresh()
    grids = [env.environmental.get(layer) for layer in ENVIRONMENTAL_LAYERS if env.environmental.is_set(layer)]
    grids.append(env.resources.get())
    grids += [env.temporal.get(channel) for channel in TEMPORAL_CHANNELS if env.temporal.has_any_data(channel)]
    grids += [env.hp_raster.store.get(env.hp_raster.grid_name(team)) for team in env.hp_raster.teams()]
    r = env.config.observation.radius
    side = 2 * r + 1
    if written:
        grids = [np.array(grid, copy=True) for grid in grids]
    views = [np.lib.stride_tricks.sliding_window_view(np.asarray(grid), (side, side)) for grid in grids]
    ys = np.clip(env.agents.ys, r, env.height - 1 - r) - r
    xs = np.clip(env.agents.xs, r, env.width - 1 - r) - r
    out = np.empty((env.num_agents, len(env.channels), side, side), dtype=np.float32)

    def gather_every_layer() -> np.ndarray:
        for channel, view in enumerate(views):
            out[:, channel] = view[ys, xs]
        return out

    return gather_every_layer


# Ticks a write_path world runs before its cell floor is timed: the agents' neighbourhoods have
# then been written, as they have in the write_path comparison it stands beside.
_CELL_FLOOR_TICKS = 20
_CELL_FLOOR_STEPS = 32  # precomputed one-cell steps of every agent, cycled through


def _agent_steps(ys: np.ndarray, xs: np.ndarray, shape: tuple[int, int], count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` successive seeded 8-neighbourhood steps of every agent, clipped to the grid."""
    rng = np.random.default_rng(0)
    steps = []
    for _ in range(count):
        ys = np.clip(ys + rng.integers(-1, 2, ys.size), 0, shape[0] - 1)
        xs = np.clip(xs + rng.integers(-1, 2, xs.size), 0, shape[1] - 1)
        steps.append((ys, xs))
    return steps


def _plain_cell_reads(workload: Workload) -> Callable[[], np.ndarray]:
    """The floor of a ``write_path`` tick's scattered access: plain numpy reads of every agent's
    cell in each grid the tick writes by cell (temporal channels, resources), no engine code.
    Each call the agents take the next of ``_agent_steps``, as the driver's take one a tick."""
    env = workload.env
    for _ in range(_CELL_FLOOR_TICKS):
        workload.run()
    grids = [np.asarray(env.temporal.get(channel)) for channel in TEMPORAL_CHANNELS]
    grids.append(np.asarray(env.resources.get()))
    steps = _agent_steps(env.agents.ys, env.agents.xs, (env.height, env.width), _CELL_FLOOR_STEPS)
    out = np.empty((len(grids), env.num_agents), dtype=np.float32)
    calls = itertools.count()

    def read_every_cell() -> np.ndarray:
        ys, xs = steps[next(calls) % _CELL_FLOOR_STEPS]
        for row, grid in enumerate(grids):
            out[row] = grid[ys, xs]
        return out

    return read_every_cell


def _specs() -> tuple[ComparisonSpec, ...]:
    specs: list[ComparisonSpec] = []
    agents = WorkloadParams("ram", 16).agents
    for backend in BACKENDS:
        specs.append(ComparisonSpec(
            f"single_window.{backend}.1024", f"{backend} store.get_window vs bare slice copy", 1024,
            builder("store_windows", backend, lambda w: w.bare_slices), 1.5, SINGLE_READS, "read"))
    specs.append(ComparisonSpec("single_window.memmap_vs_ram.1024", "store.get_window, memmap vs RAM", 1024,
                                builder("store_windows"), 1.05, SINGLE_READS, "read"))
    for size, speedup in ((1024, 4.0), (4096, 2.0)):
        for backend in BACKENDS:
            for variant, workload, how in (("", "store_batched_windows", "out="), ("_fresh", "store_fresh_batched_windows", "")):
                specs.append(ComparisonSpec(
                    f"batched_windows{variant}.{backend}.{size}", f"{backend} get_windows({how}) vs loop of slice copies",
                    size, builder(workload, backend, lambda w: w.bare_slices), 1 / speedup, BATCH_CENTRES, "window"))
        specs.append(ComparisonSpec(f"batched_windows.memmap_vs_ram.{size}", "get_windows(out=), memmap vs RAM",
                                    size, builder("store_batched_windows"), 1.05, BATCH_CENTRES, "window"))
    # Floors: plain Python / numpy on the same data and targets, to show what is reachable.
    specs.append(ComparisonSpec(
        "floor.function_wrapper.1024", "a bare function around the slice copy vs the inline copy", 1024,
        builder("store_windows", "ram", lambda w: w.bare_slices, lambda w: w.wrapped_slices), 1.5,
        SINGLE_READS, "read"))
    for size, speedup in ((1024, 4.0), (4096, 2.0)):
        specs.append(ComparisonSpec(
            f"floor.numpy_gather.{size}", "plain numpy sliding_window_view gather vs loop of slice copies", size,
            builder("store_batched_windows", "ram", lambda w: w.bare_slices, lambda w: w.plain_gather),
            1 / speedup, BATCH_CENTRES, "window"))
    for size in (512, 4096):
        specs.append(ComparisonSpec(
            f"floor.layer_gathers.{size}", "plain numpy gathers of every grid observe_all reads vs observe(i)",
            size, builder("observe_all", "ram", _observe_each, _plain_layer_gathers), 1 / 20,
            agents, "agent", min_block_s=0.002))
    # What the pages under a world cost plain numpy, engine aside. RAM's sparse grids read the
    # kernel's shared zero page where never written, in 2 MiB pages (numpy asks for huge pages);
    # a memmap world's sparse grids read 4 KiB page-cache pages, so that resident file memory
    # tracks the work. Below 1: never-written RAM reads are cheaper than written ones.
    specs.append(ComparisonSpec(
        "floor.zero_page_gathers.4096", "plain numpy layer gathers, RAM grids as found vs every page written",
        4096, builder("observe_all", "ram", _written_layer_gathers, _plain_layer_gathers), 1.0,
        agents, "agent", min_block_s=0.002))
    specs.append(ComparisonSpec(
        "floor.memmap_pages_gathers.4096", "plain numpy layer gathers, memmap world's grids vs RAM world's",
        4096, across_backends(_plain_layer_gathers), 1.05, agents, "agent", min_block_s=0.002))
    # The same for write_path's scattered cells: its memmap/RAM line (<= 1.05) beside what plain
    # reads of those cells cost on each world's pages.
    for size in (1024, 4096):
        specs.append(ComparisonSpec(
            f"floor.memmap_pages_cells.{size}", "plain numpy reads at each tick's cells, memmap world's write_path grids vs RAM world's",
            size, across_backends(_plain_cell_reads, "write_path"), 1.05, agents, "agent", min_block_s=0.002))
    specs.append(ComparisonSpec("temporal_decay.memmap_vs_ram.4096", "apply_decay, 3 dense channels", 4096,
                                builder("temporal_decay"), 1.25, 1, "tick"))
    specs.append(ComparisonSpec("sparse_decay.active_vs_full.8192", "active-tile decay vs full-grid multiply", 8192,
                                builder("sparse_decay", "ram", lambda w: w.full_grid_multiply),
                                # Blocks of >= 20 ms hold ~40 decays, so the figure is a steady tick
                                # loop, not the one decay that follows a 256 MiB sweep evicting
                                # every cache (that one costs ~2.5x: BENCHMARKS.md shows both).
                                1 / 20, 1, "tick", min_block_s=0.020))
    for backend in BACKENDS:
        specs.append(ComparisonSpec(
            f"deposit.{backend}.1024", f"{backend} vectorised deposit vs per-event add_at loop", 1024,
            builder("temporal_deposit", backend, lambda w: w.per_event_loop),
            1 / 20, DEPOSIT_EVENTS, "event", min_block_s=0.002))
    for size in (512, 4096):
        specs.append(ComparisonSpec(f"observe_all.vs_observe.{size}", "observe_all vs observe(i) per agent, RAM",
                                    size, builder("observe_all", "ram", _observe_each), 1 / 20, agents,
                                    "agent", per_unit_limit_s=10e-6, min_block_s=0.002))
        specs.append(ComparisonSpec(f"observe_all.memmap_vs_ram.{size}", "observe_all, memmap vs RAM", size,
                                    builder("observe_all"), 1.05, agents, "agent", per_unit_limit_s=10e-6))
    specs.extend(layout_specs())
    return tuple(specs)


COMPARISONS: dict[str, ComparisonSpec] = {spec.name: spec for spec in _specs()}
