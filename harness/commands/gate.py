"""`farm-harness gate`: memmap/RAM ratios per workload from a pytest-benchmark JSON, judged like validate."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from harness.acceptance.benchmark_gate import GateRow, benchmark_runs, gate_rows, load_document, pair_runs, result_document
from harness.commands.commandline import add_threshold, existing_file, exit_code, output_file
from harness.results.jsonfiles import write_json_atomic
from harness.verdicts import DEFAULT_THRESHOLD, overall


def rows_frame(rows: Sequence[GateRow]) -> pd.DataFrame:
    """The printed table: one row per workload and size."""
    def interval(row: GateRow) -> str:
        return "n/a (no raw data)" if row.ci_low is None else f"[{row.ci_low:.3f}, {row.ci_high:.3f}]"

    return pd.DataFrame({
        "workload": [r.workload for r in rows],
        "size": ["" if r.size is None else r.size for r in rows],
        "ram median": [f"{r.ram_median_s * 1e6:.1f} us" for r in rows],
        "memmap median": [f"{r.memmap_median_s * 1e6:.1f} us" for r in rows],
        "memmap/RAM": [f"{r.ratio:.3f}" for r in rows],
        "95% CI": [interval(r) for r in rows],
        "verdict": [r.verdict.value for r in rows],
    })


def prepare_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pytest-benchmark", type=existing_file, required=True, dest="pytest_benchmark",
                        metavar="PATH", help="a `pytest --benchmark-json` file or a saved pytest-benchmark run")
    add_threshold(parser, DEFAULT_THRESHOLD)
    parser.add_argument("--json", type=output_file, help="write the verdict as a farm-harness result JSON here")


def run(args: argparse.Namespace) -> int:
    """The subcommand: read, pair, judge, print; 0 PASS, 1 FAIL, 3 INCONCLUSIVE (2 via HarnessUsageError)."""
    started = time.perf_counter()
    path = Path(args.pytest_benchmark)
    document = load_document(path)
    rows = gate_rows(pair_runs(benchmark_runs(document, path), path), args.threshold)
    verdict = overall(r.verdict for r in rows)
    print(rows_frame(rows).to_string(index=False))
    missing = sum(r.ci_low is None for r in rows)
    if missing:
        print(f"{missing} pair(s) without raw data: WARN. Use --benchmark-json, or --benchmark-save-data when saving.")
    print(f"gate: {verdict.value} (memmap/RAM threshold {args.threshold:g}, {len(rows)} pairs, from {path})")
    if args.json is not None:
        write_json_atomic(result_document(rows, document, args.threshold, time.perf_counter() - started), args.json)
    return exit_code(verdict)
