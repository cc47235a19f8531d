"""`farm-harness report`: render farm-harness result JSON, asv results directories and pytest-benchmark JSON into files."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.commands.commandline import EXIT_USAGE, internal_error, one_line, run_with_arguments
from harness.errors import HarnessUsageError
from reports.errors import ReportExistsError
from reports.writer import DEFAULT_FORMATS, FORMATS, write_report

# Registered as the `report` command in the farm_harness.commands entry-point group
# (pyproject.toml): the harness finds it there and never imports this package.
PROG = "farm-harness report"
HELP = "render harness, asv and pytest-benchmark results into Markdown, HTML, CSV, JSON, JUnit and PNG"
EXIT_OK = 0


def prepare_parser(parser: argparse.ArgumentParser) -> None:
    """The report options (argv excludes the word 'report')."""
    parser.add_argument("--from", dest="sources", action="append", type=Path, required=True, metavar="PATH",
                        help="harness result JSON, pytest-benchmark JSON or asv results directory (repeatable)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="directory to write the report into")
    parser.add_argument("--format", dest="formats", default=",".join(DEFAULT_FORMATS),
                        help=f"comma-separated subset of {','.join(FORMATS)} (default: all)")
    parser.add_argument("--force", action="store_true", help="overwrite report files already in --out")
    parser.add_argument("--quiet", action="store_true", help="one summary line instead of a line per file")


def _fail(message: object) -> int:
    print(f"{PROG}: error: {one_line(message)}", file=sys.stderr)
    return EXIT_USAGE


def run(args: argparse.Namespace) -> int:
    """Write the report; 0 when written, 2 on bad input (one line on stderr)."""
    try:
        written = write_report(args.sources, args.out, args.formats, force=args.force)
    except (HarnessUsageError, ReportExistsError) as error:
        return _fail(error)
    except OSError as error:
        where = error.filename or args.out
        return _fail(f"{where}: {error.strerror or error}")
    if args.quiet:
        print(f"report: {len(written)} files in {args.out}")
    else:
        for path in written:
            print(path)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m reports.cli ARGS` is `farm-harness report ARGS`."""
    arguments = sys.argv[1:] if argv is None else argv
    try:
        return run_with_arguments(sys.modules[__name__], PROG, arguments)
    except Exception as exc:  # a bug, not bad input: exit 4 with the traceback saved, as farm-harness does
        return internal_error(PROG, exc)


if __name__ == "__main__":
    sys.exit(main())
