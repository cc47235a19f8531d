"""`farm-harness validate`: run the acceptance checks C1..C9, print the tables, write the result JSON and the report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from harness.acceptance.checks import KNOWN_CRITERIA
from harness.acceptance.measurements import step_count
from harness.acceptance.plan import ValidationPlan
from harness.acceptance.scope import DEFAULT_BACKEND, file_backend_choices
from harness.acceptance.tables import (
    CRITERIA_HEADER,
    OUTOFCORE_HEADER,
    outcome_tables,
    outofcore_table,
    plain_table,
    ratio_header,
)
from harness.acceptance.validation import ValidationOutcome, run_validation
from harness.commands.commandline import add_outputs, add_threshold, exit_code, names_of, render_report
from harness.progress import progress_display, use_rich
from harness.results.document import build_result, write_result
from harness.verdicts import DEFAULT_THRESHOLD
from harness.workloads.catalog import WORKLOADS

DEFAULT_OUT = Path("farm-harness-out")
RESULT_NAME = "farm-harness-result.json"


def print_outcome(outcome: ValidationOutcome, rich_output: bool | None = None) -> None:
    """The criteria table, the ratio rows and the overall verdict: rich on a terminal, plain otherwise."""
    criteria, ratios = outcome_tables(outcome)
    if use_rich() if rich_output is None else rich_output:
        from rich.console import Console
        from rich.table import Table

        console = Console()
        backend = outcome.scope.backend
        tables = [("criteria", CRITERIA_HEADER, criteria), (f"{backend}/RAM ratios", ratio_header(backend), ratios)]
        if outcome.outofcore:
            tables.append(("out-of-core (C9)", OUTOFCORE_HEADER, outofcore_table(outcome)))
        for title, header, rows in tables:
            table = Table(title=title)
            for name in header:
                table.add_column(name, overflow="fold")
            for row in rows:
                table.add_row(*row)
            console.print(table)
        console.print(f"[bold]overall: {outcome.verdict.value}[/bold] ({outcome.duration_s:.1f} s)")
        return
    lines = plain_table(CRITERIA_HEADER, criteria) + [""] + plain_table(ratio_header(outcome.scope.backend), ratios)
    if outcome.outofcore:
        lines += [""] + plain_table(OUTOFCORE_HEADER, outofcore_table(outcome))
    for line in lines:
        print(line)
    print(f"overall: {outcome.verdict.value} ({outcome.duration_s:.1f} s)")


def write_report(json_path: Path, out_dir: Path) -> None:
    """Render the report with the `report` command (an entry point in PLUGIN_GROUP); one line if there is none."""
    render_report(json_path, out_dir)


def prepare_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="small sizes, fewer blocks (CI)")
    parser.add_argument("--big", action="store_true",
                        help="full, plus C9's big-world figures (1 GiB cold gathers, an 8192x8192 frontier)")
    add_threshold(parser, DEFAULT_THRESHOLD)
    add_outputs(parser, f"directory for the result JSON and the report (default {DEFAULT_OUT})",
                f"write the result JSON here (default OUT/{RESULT_NAME})", out_default=str(DEFAULT_OUT))
    parser.add_argument("--workloads", type=names_of(WORKLOADS, "workload"), help="comma-separated workload names")
    parser.add_argument("--criteria", type=names_of(KNOWN_CRITERIA, "criterion", upper=True),
                        help="comma-separated criterion ids, e.g. C1,C4")
    parser.add_argument("--backend", default=DEFAULT_BACKEND, choices=file_backend_choices(),
                        help=f"the registered file backend measured against RAM (default {DEFAULT_BACKEND}); "
                             "checks that do not apply to it are listed as n/a with the reason")


def run(args: argparse.Namespace) -> int:
    """The `validate` subcommand: exit 0 PASS, 1 FAIL, 3 INCONCLUSIVE."""
    changes: dict[str, Any] = {"threshold": args.threshold}
    if args.workloads:
        changes["workloads"] = tuple(args.workloads)
    if args.criteria:
        changes["criteria"] = tuple(args.criteria)
    changes["backend"] = args.backend
    plan = ValidationPlan.for_mode(args.quick, big=args.big, **changes)
    with progress_display("validate", step_count(plan)) as progress:
        outcome = run_validation(plan, progress=progress)
    print_outcome(outcome)
    json_path = args.json if args.json is not None else args.out / RESULT_NAME
    json_path.parent.mkdir(parents=True, exist_ok=True)
    document = build_result(verdict=outcome.verdict, mode=plan.mode, threshold=plan.threshold,
                            criteria=outcome.criteria, duration_s=outcome.duration_s, ratios=outcome.ratios,
                            memory=outcome.memory, memory_fit=outcome.memory_fit, outofcore=outcome.outofcore,
                            backend=outcome.scope.backend, not_applicable=outcome.scope.not_applicable)
    write_result(document, json_path)
    print(f"result JSON: {json_path}")
    write_report(json_path, args.out)
    return exit_code(outcome.verdict)
