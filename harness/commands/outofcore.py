"""`farm-harness outofcore`: cold batched gathers per layout/prefetch/access setting, and frontier ticks (C9's figures, informational)."""

from __future__ import annotations

import argparse
from typing import Any

from harness.probes.cold_gather import GATHER_RADIUS, GATHER_WINDOWS, ColdGather, GatherSetting, measure_settings
from harness.commands.commandline import EXIT_PASS, comma_list, int_at_least, output_file
from harness.progress import progress_display
from harness.errors import HarnessUsageError
from harness.probes.footprint import FileLayout
from harness.probes.cold_frontier import FrontierResult, measure_frontier
from harness.results.jsonfiles import write_json_atomic
from harness.commands.size_options import CELL_BYTES, count_in_memory, grid_side_on_disk
from harness.probes.tempfiles import scratch_dir

MIB = 1024**2
DEFAULT_SETTINGS = "rows,tiles32"


def _settings(text: str) -> tuple[GatherSetting, ...]:
    try:
        return tuple(GatherSetting.parse(item) for item in comma_list(text))
    except HarnessUsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def gather_line(g: ColdGather) -> str:
    read = "-" if g.read_ratios is None else f"{sorted(g.read_ratios)[len(g.read_ratios) // 2]:.2f}x"
    record = g.record()
    resident = record["resident_median_bytes"]
    floor = "-" if g.floor_us_per_window is None else f"{g.floor_us_per_window:.1f}"
    return (f"{g.setting.label:<34} {record['us_per_window']:>8.1f} {min(g.us_per_window):>7.1f}-"
            f"{max(g.us_per_window):<7.1f} {read:>7} {(record['read_bytes'] or 0) / MIB:>8.0f} "
            f"{g.needed_bytes / MIB:>8.0f} {(resident or 0) / MIB:>8.0f} {record['warm_us_per_window']:>7.2f} "
            f"{floor:>6}{'' if g.eviction_effective else '  (eviction not effective)'}")


GATHER_HEADER = (f"{'setting':<34} {'us/win':>8} {'range':>15} {'read/min':>7} {'read MiB':>8} {'min MiB':>8} "
                 f"{'res. MiB':>8} {'warm us':>7} {'floor':>6}")


def frontier_line(f: FrontierResult) -> str:
    return (f"frontier {f.layout:<8} {f.size:>6}  cold/warm {f.ratio:.2f} [{f.ci_low:.2f}, {f.ci_high:.2f}]  "
            f"cold {sorted(f.cold_s)[len(f.cold_s) // 2] * 1e3:.1f} ms, warm {sorted(f.warm_s)[len(f.warm_s) // 2] * 1e3:.1f} ms"
            f", read {(f.inblock_bytes or 0) / MIB:.0f} MiB{'' if f.eviction_effective else '  (nothing read)'}")


def prepare_parser(parser: argparse.ArgumentParser) -> None:
    # Gather grids are written in full on the scratch file system: its free space bounds their side.
    parser.add_argument("--size", type=grid_side_on_disk(64), default=16384,
                        help="side of the dense float32 gather grid (default 16384: 1 GiB)")
    parser.add_argument("--settings", type=_settings, default=_settings(DEFAULT_SETTINGS),
                        help="comma-separated layout[:prefetch|noprefetch][:auto|random|normal], "
                             f"e.g. rows:noprefetch:normal,tiles64 (default {DEFAULT_SETTINGS})")
    parser.add_argument("--trials", type=int_at_least(1), default=3, help="cold trials per setting (default 3)")
    window_bytes = (2 * GATHER_RADIUS + 1) ** 2 * CELL_BYTES  # the gather's output is held in RAM
    parser.add_argument("--windows", type=count_in_memory(window_bytes, "a gather of {} windows"), default=GATHER_WINDOWS)
    parser.add_argument("--floor", action="store_true",
                        help="also read each layout's pages direct from the device: the disk's floor (fio, as many in flight as the device takes, when installed; else 32 Python threads)")
    parser.add_argument("--frontier-size", type=grid_side_on_disk(64, allow_zero=True), default=0,
                        help="also time frontier ticks in a world of this side (0: none; e.g. 8192)")
    parser.add_argument("--frontier-layouts", type=comma_list, default=("rows", "tiles32"))
    parser.add_argument("--frontier-pairs", type=int_at_least(2), default=8)
    parser.add_argument("--json", type=output_file, help="write every record here as JSON")


def run(args: argparse.Namespace) -> int:
    """Print one line per setting (and per frontier layout); informational, exit 0 (2 on bad input)."""
    for layout in args.frontier_layouts if args.frontier_size else ():
        FileLayout.named((64, 64), layout)  # bad names before minutes of work
    records: list[dict[str, Any]] = []
    steps = len(args.settings) + (len(args.frontier_layouts) if args.frontier_size else 0)
    with scratch_dir() as scratch, progress_display("outofcore", steps) as progress:
        gathers = measure_settings(scratch, args.size, args.settings, trials=args.trials, windows=args.windows,
                                   floor=args.floor, progress=progress)
        records += [g.record() for g in gathers]
        frontier = []
        for index, layout in enumerate(args.frontier_layouts if args.frontier_size else (), start=1):
            frontier.append(measure_frontier(scratch, args.frontier_size, layout, pairs=args.frontier_pairs))
            records.append(frontier[-1].record())
            progress(len(args.settings) + index, steps, f"frontier {layout}")
    print(f"cold batched gather: {args.windows} windows R=6, dense {args.size}x{args.size} float32, "
          f"{args.trials} trials (median, range)")
    print(GATHER_HEADER)
    for g in gathers:
        print(gather_line(g))
    for f in frontier:
        print(frontier_line(f))
    if args.json is not None:
        write_json_atomic(records, args.json)
        print(f"wrote {args.json}")
    return EXIT_PASS

