"""`farm-harness coldcache`: informational cold window rows against RAM; exit 0 when all PASS, else 3 (never 1)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from harness.commands.commandline import EXIT_INCONCLUSIVE, EXIT_PASS, add_outputs, add_threshold, names_of
from harness.probes.cold_windows import COLD_WORKLOADS, ColdRow, measure_cold_rows
from harness.probes.tempfiles import scratch_dir
from harness.progress import progress_display
from harness.results.document import build_result, write_result
from harness.verdicts import COLD_THRESHOLD, Overall, Verdict


def format_rows(rows: Sequence[ColdRow]) -> list[str]:
    lines = [f"{'workload':<22} {'size':>6} {'cold/RAM':>9} {'95% CI':>17} {'limit':>6} {'verdict':>7}  details"]
    for r in rows:
        t = r.timing
        lines.append(f"{r.workload:<22} {r.size:>6} {t.ratio:>9.2f} {t.ci_low:>8.2f}-{t.ci_high:<8.2f} "
                     f"{r.threshold:>6.2f} {r.verdict.value:>7}  {r.details}")
    return lines


def prepare_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="one size, fewer trials")
    add_threshold(parser, COLD_THRESHOLD, "cold/RAM ratio (a row above it WARNs)")  # looser than the warm gate
    parser.add_argument("--workloads", type=names_of(COLD_WORKLOADS, "cold-cache workload"),
                        help=f"comma-separated, of {', '.join(COLD_WORKLOADS)}")
    add_outputs(parser, "directory for coldcache.json")


def run(args: argparse.Namespace) -> int:
    """`farm-harness coldcache`: informational cold rows; exit 0 when all PASS, else 3 (never 1)."""
    threshold = args.threshold
    workloads = tuple(args.workloads) if args.workloads else COLD_WORKLOADS
    sizes, trials = ((1024,), 5) if args.quick else ((1024, 4096), 8)
    started = time.perf_counter()
    with scratch_dir() as scratch, progress_display("coldcache", len(workloads) * len(sizes)) as progress:
        rows = measure_cold_rows(workloads, sizes, scratch, trials=trials, threshold=threshold, progress=progress)
    for line in format_rows(rows):
        print(line)
    verdict = Overall.PASS if all(r.verdict is Verdict.PASS for r in rows) else Overall.INCONCLUSIVE
    print(f"cold cache: {verdict.value} (informational, limit {threshold:g}x)")
    target = args.json if args.json is not None else (args.out / "coldcache.json" if args.out else None)
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        document = build_result(verdict=verdict, mode="quick" if args.quick else "full", threshold=threshold,
                                criteria=(), duration_s=time.perf_counter() - started,
                                ratios=[r.record() for r in rows])
        write_result(document, target)
        print(f"wrote {target}")
    return EXIT_PASS if verdict is Overall.PASS else EXIT_INCONCLUSIVE
