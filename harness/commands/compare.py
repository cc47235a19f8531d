"""`farm-harness compare`: time the named engine-vs-reference speed comparisons, judge each against its target."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence

import pandas as pd

from harness.acceptance.comparisons import ComparisonResult, run_comparison, select
from harness.commands.commandline import EXIT_PASS, exit_code, output_file
from harness.commands.size_options import grid_side_in_memory
from harness.errors import HarnessUsageError
from harness.results.document import machine_info
from harness.results.jsonfiles import write_json_atomic
from harness.verdicts import overall


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
