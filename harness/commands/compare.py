"""`farm-harness compare`: the speed comparisons and their targets, each (baseline, candidate) pair timed with measure_paired."""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import itertools
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from farm_grids.managers import ENVIRONMENTAL_LAYERS, TEMPORAL_CHANNELS
from harness.commands.commandline import EXIT_PASS, exit_code, output_file
from harness.workloads.comparison_pairs import ComparisonSpec, across_backends, builder
from harness.workloads.layout_comparisons import layout_specs
from harness.errors import HarnessUsageError
from harness.results.jsonfiles import write_json_atomic
from harness.workloads.micro import BATCH_CENTRES, DEPOSIT_EVENTS, SINGLE_READS
from harness.results.document import machine_info
from harness.commands.size_options import grid_side_in_memory
from harness.probes.stats import median_interval
from harness.probes.tempfiles import scratch_dir
from harness.probes.timing import PairedTiming, measure_paired
from harness.verdicts import Verdict, judge_ratio, overall, worst
from harness.workloads.catalog import BACKENDS, Workload, WorkloadParams


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


@dataclass(frozen=True)
class ComparisonResult:
    """A measured comparison, judged: ratio = candidate/baseline time (speed-up = 1/ratio)."""

    name: str
    size: int
    ratio: float
    ci_low: float
    ci_high: float
    max_ratio: float
    target: str
    unit: str
    baseline_per_unit_s: float
    candidate_per_unit_s: float
    per_unit_limit_s: float | None
    per_unit_ci: tuple[float, float] | None
    verdict: Verdict
    blocks: int
    iterations_per_block: int

    @property
    def speedup(self) -> float:
        return 1.0 / self.ratio


def judge(spec: ComparisonSpec, size: int, timing: PairedTiming) -> ComparisonResult:
    """The ratio judged against ``max_ratio``; the candidate's per-item interval against its limit."""
    per_call = timing.iterations_per_block * spec.units
    verdicts = [judge_ratio(timing.ci_low, timing.ci_high, spec.max_ratio)]
    per_unit_ci = None
    if spec.per_unit_limit_s is not None:
        per_unit_ci = median_interval(np.asarray(timing.candidate_block_s) / per_call)
        verdicts.append(judge_ratio(per_unit_ci[0], per_unit_ci[1], spec.per_unit_limit_s))
    return ComparisonResult(
        name=spec.name, size=size, ratio=timing.ratio, ci_low=timing.ci_low, ci_high=timing.ci_high,
        max_ratio=spec.max_ratio, target=spec.target, unit=spec.unit,
        baseline_per_unit_s=timing.baseline_median_s / per_call, candidate_per_unit_s=timing.candidate_median_s / per_call,
        per_unit_limit_s=spec.per_unit_limit_s, per_unit_ci=per_unit_ci, verdict=worst(verdicts),
        blocks=timing.blocks, iterations_per_block=timing.iterations_per_block,
    )


def run_comparison(spec: ComparisonSpec, *, size: int | None = None, directory: Path | None = None, blocks: int = 30,
                   time_budget_s: float | None = None, seed: int = 0) -> ComparisonResult:
    """Build ``spec`` (memmap files in ``directory`` or a scratch dir), time it paired, clean up, judge."""
    chosen = spec.size if size is None else size
    with contextlib.ExitStack() as stack:
        where = directory if directory is not None else stack.enter_context(scratch_dir("farm-cmp-"))
        pair = spec.build(chosen, where)
        stack.callback(pair.cleanup.close)
        timing = measure_paired(pair.baseline, pair.candidate, workload=spec.name, blocks=blocks,
                                min_block_s=spec.min_block_s, time_budget_s=time_budget_s, seed=seed)
    return judge(spec, chosen, timing)


def select(patterns: str | None) -> list[ComparisonSpec]:
    """Comparisons whose name matches any comma-separated name or glob; all when None."""
    if patterns is None:
        return list(COMPARISONS.values())
    wanted = [p.strip() for p in patterns.split(",") if p.strip()]
    unmatched = [p for p in wanted if not fnmatch.filter(COMPARISONS, p)]
    if not wanted or unmatched:
        raise HarnessUsageError(f"--only {patterns!r} matches no comparison (known: {', '.join(COMPARISONS)})")
    return [spec for name, spec in COMPARISONS.items() if any(fnmatch.fnmatchcase(name, p) for p in wanted)]


def _seconds(value: float) -> str:
    for scale, suffix in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us")):
        if value >= scale:
            return f"{value / scale:.3g} {suffix}"
    return f"{value / 1e-9:.3g} ns"


def results_frame(results: Sequence[ComparisonResult]) -> pd.DataFrame:
    """One printable row per comparison: ratio with its 95 % interval, per-item times, target, verdict."""
    rows = []
    for r in results:
        interval = f"[{r.ci_low:.3g}, {r.ci_high:.3g}]" if math.isfinite(r.ci_low) else "[n/a]"
        rows.append({
            "comparison": r.name, "size": r.size, "ratio (95% CI)": f"{r.ratio:.3g} {interval}",
            "speed-up": f"{r.speedup:.3g}x", "baseline": f"{_seconds(r.baseline_per_unit_s)}/{r.unit}",
            "candidate": f"{_seconds(r.candidate_per_unit_s)}/{r.unit}", "target": r.target, "met": r.verdict.value,
        })
    return pd.DataFrame(rows)


def prepare_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--only", help="comma-separated names or globs, e.g. 'observe_all.*,deposit.ram.1024'")
    parser.add_argument("--json", type=output_file, help="write every result (with block times' summary) here")
    parser.add_argument("--blocks", type=int, default=30, help="block pairs per comparison (default 30)")
    parser.add_argument("--budget", type=float, default=30.0, help="seconds per comparison, >= 5 pairs (default 30)")
    parser.add_argument("--size", type=grid_side_in_memory(16), help="override every comparison's size, >= 16 (smoke runs)")
    parser.add_argument("--list", action="store_true", help="list the comparisons and their targets")


def run(args: argparse.Namespace) -> int:
    """Run the comparisons, print the table; exit 0 all met, 1 a target failed, 3 inconclusive, 2 usage."""
    specs = select(args.only)
    if args.blocks < 2 or args.budget <= 0 or (args.size is not None and args.size < 16):
        raise HarnessUsageError("need --blocks >= 2, --budget > 0 and --size >= 16")
    if args.list:
        print("\n".join(f"{spec.name:36s} {spec.target:34s} {spec.description}" for spec in specs))
        return EXIT_PASS
    results = []
    for index, spec in enumerate(specs, 1):
        print(f"[{index}/{len(specs)}] {spec.name}", file=sys.stderr, flush=True)
        results.append(run_comparison(spec, size=args.size, blocks=args.blocks, time_budget_s=args.budget))
    print(results_frame(results).to_string(index=False))
    verdict = overall(r.verdict for r in results)
    print(f"overall: {verdict.value}")
    if args.json is not None:
        write_json_atomic({"kind": "farm-harness/comparisons/v1", "overall": verdict, "machine": machine_info(),
                           "results": results}, args.json)
    return exit_code(verdict)
