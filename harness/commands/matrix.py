"""`farm-harness matrix SPEC`: every cell of a spec's axes judged memmap vs RAM, on a Dask cluster or here."""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.commands.commandline import exit_code, output_dir, positive_int, render_report
from harness.matrix.cells import CellSettings
from harness.matrix.cluster import CONNECT_TIMEOUT_S, LEASE_TIMEOUT_S, check_workers, cluster_client
from harness.matrix.fingerprint import engine_identity, fingerprint
from harness.matrix.journal import JOURNAL_NAME, Journal
from harness.matrix.report import RESULT_NAME, write_matrix_report
from harness.matrix.runner import Placement, RowCallback, plan, run_in_process, run_on_cluster
from harness.matrix.spec import load_spec
from harness.matrix.storage import environment_options

DEFAULT_OUT = Path("farm-harness-matrix")


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return value


def prepare_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", type=Path, metavar="SPEC", help="the matrix spec, YAML or JSON")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=positive_int, default=None, metavar="N",
                       help="start a LocalCluster of N single-threaded worker processes here (default 1)")
    where.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run on this existing Dask scheduler")
    where.add_argument("--in-process", action="store_true", help="no cluster: measure every cell in this process")
    parser.add_argument("--out", type=output_dir, default=DEFAULT_OUT,
                        help=f"directory of the journal ({JOURNAL_NAME}) and the report (default {DEFAULT_OUT})")
    parser.add_argument("--resume", action="store_true", help="finish the run in --out: cells already journaled are skipped")
    parser.add_argument("--scratch", metavar="DIR", help="where each worker makes its cells' scratch directories "
                                                         "(default: its temp dir); its file system is recorded")
    parser.add_argument("--connect-timeout", type=positive_seconds, default=CONNECT_TIMEOUT_S, metavar="SECONDS",
                        help=f"seconds to reach the scheduler and see a worker (default {CONNECT_TIMEOUT_S:g})")
    parser.add_argument("--lease-timeout", type=positive_seconds, default=LEASE_TIMEOUT_S, metavar="SECONDS",
                        help="seconds after which a dead worker's timing slot is freed, for a LocalCluster "
                             f"(default {LEASE_TIMEOUT_S:g}; an existing scheduler keeps its own config)")


def _print_row(count: int, total: int, row: Mapping[str, Any]) -> None:
    ratio = row.get("ratio")
    shown = "-" if ratio is None else f"{ratio:.3f}"
    print(f"matrix: {count}/{total} {row['cell']} on {row.get('where', '?')}: {shown} {row['verdict']}"
          + (f" ({row['error']})" if row.get("error") else ""), flush=True)


def _announce(journal: Journal, todo: list[Placement]) -> RowCallback:
    """Say what is left to do; the callback that prints each row as it is journaled."""
    total = len(journal.rows) + len(todo)
    if journal.rows:
        print(f"matrix: resuming, {len(journal.rows)} of {total} cells already in {journal.path}", flush=True)
    return lambda count, row: _print_row(count, total, row)


def run(args: argparse.Namespace) -> int:
    """Check the spec, the journal and the cluster (nothing is written before), run the cells, report."""
    started = time.perf_counter()
    spec = load_spec(args.spec)
    journal_path = args.out / JOURNAL_NAME
    Journal.check(journal_path, spec.digest, args.resume)
    settings = CellSettings(timing=spec.timing, threshold=spec.threshold, scratch_parent=args.scratch,
                            storage=spec.storage)
    if args.in_process:
        if spec.storage:
            environment_options()  # this process is the worker: its own options must parse before anything runs
        kind = fingerprint(args.scratch or tempfile.gettempdir()).machine_type
        journal = Journal.open(journal_path, spec.digest, args.resume)
        todo = plan(spec.cells(), [kind], journal.rows)
        run_in_process(todo, settings, journal, on_row=_announce(journal, todo))
    else:
        with cluster_client(args.workers, args.scheduler, lease_timeout_s=args.lease_timeout,
                            timeout_s=args.connect_timeout) as client:
            hosts = check_workers(client, args.scratch, args.connect_timeout, uses_storage=bool(spec.storage))
            journal = Journal.open(journal_path, spec.digest, args.resume)
            todo = plan(spec.cells(), list(hosts), journal.rows)
            run_on_cluster(client, todo, hosts, settings, journal, retries=spec.retries, on_row=_announce(journal, todo))
    verdict = write_matrix_report(list(journal.rows.values()), spec, args.out,
                                  duration_s=time.perf_counter() - started, commit=engine_identity().commit)
    render_report(args.out / RESULT_NAME, args.out)
    print(f"matrix: {verdict.value} ({len(journal.rows)} cells, journal {journal_path}, report in {args.out})")
    return exit_code(verdict)
