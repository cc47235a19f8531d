"""`farm-harness memory`: probes per layout and size, the C6 row (rows) and C9's resident line."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

from harness.acceptance.memory_scaling import memory_criterion
from harness.acceptance.out_of_core import RESIDENT_RATIO, judge_resident, resident_points
from harness.commands.commandline import add_outputs, comma_list, exit_code, positive_int_list
from harness.errors import HarnessUsageError
from harness.probes.memory import (
    FULL_SIZES,
    QUICK_SIZES,
    ProbeResult,
    memory_fit,
    memory_records,
    probe_command,
    run_probes,
)
from harness.probes.tempfiles import scratch_dir
from harness.progress import progress_display
from harness.results.document import build_result, write_result
from harness.verdicts import DEFAULT_THRESHOLD, Overall, overall


MIB = 1024**2


def format_results(results: Sequence[ProbeResult]) -> list[str]:
    lines = [f"{'layout':>7} {'size':>6} {'grid MiB':>9} {'anon MiB':>9} {'file RSS MiB':>12} {'on disk MiB':>11} "
             f"{'file pages':>10} {'resident MiB':>12} {'needed MiB':>10}"]
    for r in results:
        if r.record is None:
            lines.append(f"{'-':>7} {r.size:>6} {'-':>9} {'-':>9} {'-':>12} {'-':>11} {'-':>10}  {r.error}")
            continue
        rec = r.record

        def mib(key: str) -> str:
            value = rec.get(key)
            return "n/a" if value is None else f"{value / MIB:.1f}"

        anon = "n/a" if r.anon_bytes is None else f"{r.anon_bytes / MIB:.1f}"
        lines.append(f"{rec.get('layout', 'rows'):>7} {r.size:>6} {mib('grid_bytes'):>9} {anon:>9} "
                     f"{mib('rss_file_bytes'):>12} {mib('file_blocks_bytes'):>11} {rec.get('pages_touched', 'n/a'):>10} "
                     f"{mib('resident_file_bytes'):>12} {mib('needed_bytes'):>10}")
    return lines


def prepare_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES} instead of {FULL_SIZES}")
    parser.add_argument("--sizes", type=positive_int_list, help="comma-separated grid sides, e.g. 1024,4096")
    parser.add_argument("--layouts", type=comma_list, default=("rows",),
                        help="comma-separated rows | tiles<side> (default rows); C6 judges rows, C9's "
                             "resident <= 2x needed line is printed for every layout")
    add_outputs(parser, "directory for memory.json")


def run(args: argparse.Namespace) -> int:
    """`farm-harness memory`: probes per layout and size, the C6 row (rows) and C9's resident line; exit by both."""
    sizes = tuple(args.sizes) if args.sizes else (QUICK_SIZES if args.quick else FULL_SIZES)
    if len(set(sizes)) < 2:
        raise HarnessUsageError(f"--sizes needs at least two different sizes to fit a slope, got {sizes}")
    if min(sizes) < 16:
        raise HarnessUsageError(f"--sizes must be >= 16, got {min(sizes)}")
    for layout in args.layouts:
        probe_command(16, Path("."), layout=layout)  # a bad layout name before any probe runs
    started = time.perf_counter()
    results: list[ProbeResult] = []
    with scratch_dir() as scratch, progress_display("memory", len(sizes) * len(args.layouts)) as progress:
        for index, layout in enumerate(args.layouts):
            results += run_probes(sizes, scratch, layout=layout, progress=lambda d, n, label, index=index: progress(
                index * len(sizes) + d, len(sizes) * len(args.layouts), label))
    criterion = memory_criterion(results)
    for line in format_results(results):
        print(line)
    if "rows" in args.layouts:
        print(f"{criterion.id} {criterion.verdict.value}: {criterion.details}")
    resident_verdict, resident_text, _ = judge_resident(resident_points(results), RESIDENT_RATIO)
    print(f"C9 (c) {resident_verdict.value}: {resident_text}")
    verdict: Overall = overall([criterion.verdict, resident_verdict] if "rows" in args.layouts else [resident_verdict])
    target = args.json if args.json is not None else (args.out / "memory.json" if args.out else None)
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        document = build_result(verdict=verdict, mode="quick" if args.quick else "full", threshold=DEFAULT_THRESHOLD,
                                criteria=[criterion], duration_s=time.perf_counter() - started,
                                memory=memory_records(results), memory_fit=memory_fit(results))
        write_result(document, target)
        print(f"wrote {target}")
    return exit_code(verdict)
