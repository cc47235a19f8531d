"""`farm-harness report`: render harness / asv / pytest-benchmark results into report files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from reports.errors import ReportExistsError, ReportInputError
from reports.writer import DEFAULT_FORMATS, FORMATS, write_report

PROG = "farm-harness report"
EXIT_OK = 0
EXIT_BAD_INPUT = 2


class _UsageError(Exception):
    """argparse's complaint, raised instead of printed so main() can say it in one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the report subcommand (argv excludes the word 'report')."""
    parser = _Parser(
        prog=PROG,
        description="Render farm-harness result JSON, asv results directories and pytest-benchmark "
        "JSON into Markdown, HTML, CSV, JSON, JUnit XML and PNG plots.",
    )
    parser.add_argument("--from", dest="sources", action="append", type=Path, required=True, metavar="PATH",
                        help="harness result JSON, pytest-benchmark JSON or asv results directory (repeatable)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="directory to write the report into")
    parser.add_argument("--format", dest="formats", default=",".join(DEFAULT_FORMATS),
                        help=f"comma-separated subset of {','.join(FORMATS)} (default: all)")
    parser.add_argument("--force", action="store_true", help="overwrite report files already in --out")
    return parser


def _fail(message: str) -> int:
    one_line = " ".join(str(message).split())  # one line, whatever the underlying error said
    print(f"{PROG}: error: {one_line}", file=sys.stderr)
    return EXIT_BAD_INPUT


def main(argv: list[str] | None = None) -> int:
    """Run the report subcommand; 0 when the report is written, 2 on bad input."""
    try:
        args = build_parser().parse_args(argv)
    except _UsageError as error:
        return _fail(f"{error} (see {PROG} --help)")
    try:
        written = write_report(args.sources, args.out, args.formats, force=args.force)
    except (ReportInputError, ReportExistsError) as error:
        return _fail(str(error))
    except OSError as error:
        where = error.filename or args.out
        return _fail(f"{where}: {error.strerror or error}")
    for path in written:
        print(path)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
