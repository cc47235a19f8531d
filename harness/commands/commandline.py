"""What every farm-harness command shares: exit codes, argument types and output checks, plugins, crashes."""

from __future__ import annotations

import argparse
import datetime as dt
import enum
import importlib.metadata
import math
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from types import ModuleType
from typing import NoReturn, Protocol

# This module imports nothing else of harness, so any command module (and the registry in
# cli.py) can import it without an import cycle.

PROG = "farm-harness"
EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_INCONCLUSIVE, EXIT_INTERNAL = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130
EXIT_CODES_HELP = """exit codes:
  0  PASS
  1  FAIL (a criterion or a target failed)
  2  usage error or bad input (one line on stderr)
  3  INCONCLUSIVE (nothing failed, something could not be shown to pass)
  4  internal error (one line on stderr and the path of a saved traceback)"""
_EXIT_OF_VERDICT = {"PASS": EXIT_PASS, "FAIL": EXIT_FAIL, "INCONCLUSIVE": EXIT_INCONCLUSIVE}
PLUGIN_GROUP = "farm_harness.commands"
CRASH_DIR_ENV = "FARM_HARNESS_CRASH_DIR"  # where tracebacks of internal errors go (default: the temp dir)

class Command(Protocol):
    """A subcommand: a module (or object) that adds its options to a parser and runs parsed arguments."""

    def prepare_parser(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


def exit_code(verdict: enum.Enum) -> int:
    """Exit code of a run with this overall verdict (harness.verdicts.Overall): 0 PASS, 1 FAIL, 3 INCONCLUSIVE."""
    return _EXIT_OF_VERDICT[str(verdict.value)]


def one_line(message: object) -> str:
    """``message`` with every run of white space (newlines included) folded to one space."""
    return " ".join(str(message).split())


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser that reports a usage error in one line and exits 2 (argparse prints two)."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {one_line(message)}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def new_parser(prog: str, description: str | None = None) -> CommandParser:
    """A parser whose --help ends with the exit codes."""
    return CommandParser(prog=prog, description=description, epilog=EXIT_CODES_HELP,
                         formatter_class=argparse.RawDescriptionHelpFormatter)


def comma_list(text: str) -> tuple[str, ...]:
    items = tuple(item.strip() for item in text.split(","))
    if not text.strip() or any(not item for item in items):
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of names, got {text!r}")
    return items


def names_of(known: Collection[str], what: str, *, upper: bool = False) -> Callable[[str], tuple[str, ...]]:
    """An argument type: comma-separated names, each one of ``known`` (upper-cased first with ``upper``)."""

    def parse(text: str) -> tuple[str, ...]:
        names = tuple(name.upper() if upper else name for name in comma_list(text))
        unknown = [name for name in names if name not in known]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {what} {', '.join(unknown)} (known: {', '.join(known)})")
        return names

    return parse


def int_at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
        return value

    return parse


positive_int = int_at_least(1)


def positive_int_list(text: str) -> tuple[int, ...]:
    return tuple(positive_int(item) for item in comma_list(text))


def threshold_value(text: str) -> float:
    """A ratio threshold: a finite number > 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: {text!r}") from None
    if not math.isfinite(value) or value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 1, got {value:g}")
    return value


def add_threshold(parser: argparse.ArgumentParser, default: float, what: str = "memmap/RAM ratio") -> None:
    """The --threshold option: the largest acceptable ratio, a finite number > 1."""
    parser.add_argument("--threshold", type=threshold_value, default=default,
                        help=f"largest acceptable {what}, > 1 (default {default})")


def add_outputs(parser: argparse.ArgumentParser, out_help: str, json_help: str = "write the result JSON here",
                out_default: str | None = None) -> None:
    """--out (a writable directory) and --json (a file in a writable directory), checked while parsing."""
    # A string default goes through output_dir too, so a default directory is checked as well.
    parser.add_argument("--out", type=output_dir, default=out_default, help=out_help)
    parser.add_argument("--json", type=output_file, help=json_help)


def _probe_writable(directory: Path, shown: Path) -> None:
    try:
        fd, probe = tempfile.mkstemp(prefix=".farm-harness-probe-", dir=directory)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"{shown}: directory is not writable ({exc.strerror})") from None


def output_dir(text: str | os.PathLike[str]) -> Path:
    """A writable directory, or one that could be created (nothing is created here)."""
    path = Path(text)
    if path.exists():
        if not path.is_dir():
            raise argparse.ArgumentTypeError(f"{path}: exists and is not a directory")
        _probe_writable(path, path)
        return path
    ancestor = next(p for p in path.absolute().parents if p.exists())  # the root always exists
    if not ancestor.is_dir():
        raise argparse.ArgumentTypeError(f"{path}: {ancestor} is not a directory")
    _probe_writable(ancestor, path)
    return path


def output_file(text: str | os.PathLike[str]) -> Path:
    """A file path whose directory is (or could be made) writable."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path}: is a directory, expected a file path")
    output_dir(path.absolute().parent)
    return path


def existing_file(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{path}: no such file")
    return path


def existing_dir(text: str) -> Path:
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{path}: not a directory")
    return path


def plugin_entry_points(reserved: Sequence[str] = ()) -> dict[str, importlib.metadata.EntryPoint]:
    """Commands other packages register in PLUGIN_GROUP; a ``reserved`` (built-in) name cannot be taken."""
    found = importlib.metadata.entry_points(group=PLUGIN_GROUP)
    return {ep.name: ep for ep in found if ep.name not in reserved}


def load_plugin(entry: importlib.metadata.EntryPoint) -> Command | None:
    """The command an entry point names (a module or object with prepare_parser and run), or None."""
    try:
        command = entry.load()
    except (ImportError, AttributeError):
        return None
    ok = callable(getattr(command, "prepare_parser", None)) and callable(getattr(command, "run", None))
    return command if ok else None


def run_with_arguments(command: Command | ModuleType, prog: str, argv: Sequence[str]) -> int:
    """Parse ``argv`` with the command's own options and run it (how one command calls another)."""
    parser = new_parser(prog)
    command.prepare_parser(parser)
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    return int(command.run(args))


def save_traceback(exc: BaseException) -> Path | None:
    """Write the traceback of ``exc`` to a new file (CRASH_DIR_ENV or the temp dir); None if that fails."""
    directory = os.environ.get(CRASH_DIR_ENV) or tempfile.gettempdir()
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    try:
        fd, name = tempfile.mkstemp(prefix=f"farm-harness-crash-{stamp}-", suffix=".txt", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("".join(traceback.format_exception(exc)))
    except OSError:
        return None
    return Path(name)


def internal_error(prog: str, exc: BaseException) -> int:
    """Say in one line that ``prog`` broke (not a verdict), where the traceback is, and return EXIT_INTERNAL."""
    saved = save_traceback(exc)
    where = f"traceback in {saved}" if saved is not None else "no traceback could be saved"
    print(f"{prog}: internal error: {type(exc).__name__}: {one_line(exc)[:300]} ({where})", file=sys.stderr)
    return EXIT_INTERNAL


REPORT_COMMAND = "report"  # found through the entry points: the harness never imports the reports package


def render_report(json_path: Path, out_dir: Path) -> None:
    """Render a result JSON with the `report` command (md, html, csv, json, junit, png); one line if there is none."""
    entry = plugin_entry_points().get(REPORT_COMMAND)
    command = load_plugin(entry) if entry is not None else None
    if command is None:
        print(f"report skipped: no {REPORT_COMMAND!r} command is installed")
        return
    argv = ["--from", str(json_path), "--out", str(out_dir), "--force", "--quiet"]
    if run_with_arguments(command, f"{PROG} {REPORT_COMMAND}", argv) != 0:
        print("report not written (see the error above)")
