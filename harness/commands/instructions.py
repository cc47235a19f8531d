"""`farm-harness instructions`: count instructions per call of the CPU-bound workloads under valgrind (the regression lane)."""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path

from farm_grids.stores import backend_names
from harness.commands.commandline import EXIT_FAIL, EXIT_PASS, threshold_value
from harness.errors import HarnessUsageError, InputFileError
from harness.probes.instructions import InstructionCount, LANE, count_instructions, missing_tools
from harness.results.asv_compare import DEFAULT_INSTRUCTION_FACTOR, judge_counts
from harness.results.jsonfiles import write_json_atomic


HELP = "count instructions per call of the CPU-bound workloads under valgrind (the regression lane)"


# -- the command ---------------------------------------------------------------------------
def prepare_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = HELP
    parser.add_argument("--workload", "-w", action="append", choices=tuple(LANE), help="only these (default: all)")
    parser.add_argument("--runs", type=int, default=1, help="fresh processes per workload (default 1)")
    parser.add_argument("--file-backend", dest="file_backend", help="a registered backend serving every store")
    parser.add_argument("--plugin", action="append", default=[], help="a module the counted process imports first "
                        "(it registers --file-backend)")
    parser.add_argument("--base", type=Path, help="a JSON of an earlier run: judge every run here against its "
                        "first count of each workload, as bench-ci change does")
    parser.add_argument("--factor", type=threshold_value, default=DEFAULT_INSTRUCTION_FACTOR,
                        help=f"head/base beyond which a count is a change (default {DEFAULT_INSTRUCTION_FACTOR})")
    parser.add_argument("--json", type=Path, help="write every count here")


def run(args: argparse.Namespace) -> int:
    """Count; with --base, 1 when any run is flagged (a REGRESSION), else 0."""
    if args.runs < 1:
        raise HarnessUsageError("--runs must be >= 1")
    if missing := missing_tools():
        raise HarnessUsageError(f"{', '.join(missing)} not found: install valgrind (Debian: apt-get install valgrind)")
    for plugin in args.plugin:  # here too, so that an unknown module or backend is a usage error
        try:
            importlib.import_module(plugin)
        except ImportError as exc:
            raise HarnessUsageError(f"--plugin {plugin}: {exc}") from None
    if args.file_backend is not None and args.file_backend not in backend_names():
        raise HarnessUsageError(f"--file-backend {args.file_backend!r} is not registered; known: "
                                f"{', '.join(backend_names())} (a --plugin module registers one)")
    base: dict[str, float] = {}
    if args.base is not None:
        try:
            for record in json.loads(args.base.read_text(encoding="utf-8"))["counts"]:
                base.setdefault(str(record["workload"]), float(record["per_call"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputFileError(f"{args.base}: not a JSON that `farm-harness instructions --json` wrote ({exc})") from None
    counts: list[InstructionCount] = []
    flagged: dict[str, int] = {}
    for name in args.workload or LANE:
        for index in range(args.runs):
            count = count_instructions(name, file_backend=args.file_backend, plugins=args.plugin)
            counts.append(count)
            line = f"{name:24} run {index + 1:2}: {count.per_call:14,.1f} instructions/call ({count.seconds:.1f} s)"
            if name in base:
                verdict = judge_counts(base[name], count.per_call, args.factor)
                flagged[name] = flagged.get(name, 0) + (verdict == "REGRESSION")
                line += f"  head/base {count.per_call / base[name]:.5f} {verdict}"
            print(line, flush=True)
    for name, hits in flagged.items():
        print(f"{name}: flagged {hits}/{args.runs} at head/base > {args.factor}")
    if args.json is not None:
        write_json_atomic({"schema": "farm-harness/instructions/v1", "factor": args.factor,
                           "counts": [c.record() for c in counts]}, args.json)
    return EXIT_FAIL if any(flagged.values()) else EXIT_PASS
