"""The `farm-harness` command line: argument parsing, central usage checks and lazy dispatch."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.metadata
import math
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from harness.criteria import KNOWN_CRITERIA
from harness.verdicts import COLD_THRESHOLD, DEFAULT_THRESHOLD, Overall
from harness.errors import HarnessUsageError

PROG = "farm-harness"
EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_INCONCLUSIVE = 0, 1, 2, 3
EXIT_INTERRUPTED = 130
EXIT_CODES = {Overall.PASS: EXIT_PASS, Overall.FAIL: EXIT_FAIL, Overall.INCONCLUSIVE: EXIT_INCONCLUSIVE}
PLUGIN_GROUP = "farm_harness.commands"
# Commands provided only through PLUGIN_GROUP entry points (each loads a `main(argv) -> int`),
# so that the harness never imports the reports package (reports -> harness, not back).
PLUGIN_ONLY_COMMANDS = ("report",)

CommandFunction = Callable[[argparse.Namespace], int]
ProgressCallback = Callable[[int, int, str], None]

# Subcommands implemented in modules that may not exist yet in a given build: "module:function",
# imported only when that subcommand runs. Entries in COMMANDS take precedence.
COMMAND_TARGETS: dict[str, str] = {
    "validate": "harness.validate:run",
    "memory": "harness.memory:run",
    "coldcache": "harness.coldcache:run",
    "profile": "harness.profile:run",
    "clean": "harness.clean:run",
    "gate": "harness.gate:run",
}
COMMANDS: dict[str, CommandFunction] = {}


def exit_code(verdict: Overall) -> int:
    """Exit code of a run with this overall verdict: 0 PASS, 1 FAIL, 3 INCONCLUSIVE."""
    return EXIT_CODES[verdict]


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors become HarnessUsageError (printed as one line by main)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise HarnessUsageError(message)


def _comma_list(text: str) -> tuple[str, ...]:
    items = tuple(item.strip() for item in text.split(","))
    if not text.strip() or any(not item for item in items):
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of names, got {text!r}")
    return items


def _int_at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
        return value

    return parse


_positive_int = _int_at_least(1)


def _positive_int_list(text: str) -> tuple[int, ...]:
    return tuple(_positive_int(item) for item in _comma_list(text))


def build_parser(plugin_names: Sequence[str] = ()) -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Acceptance harness: is the memmap path as fast and lean as RAM?")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, description=help_text)

    def threshold(p: argparse.ArgumentParser, default: float = DEFAULT_THRESHOLD) -> None:
        p.add_argument("--threshold", type=float, default=default,
                       help=f"largest acceptable memmap/RAM ratio, > 1 (default {default})")

    def outputs(p: argparse.ArgumentParser) -> None:
        p.add_argument("--out", type=Path, help="directory for artefacts (must be writable)")
        p.add_argument("--json", type=Path, help="write the result JSON here")

    validate = add("validate", "run the acceptance criteria C1..C8 and print the verdict")
    validate.add_argument("--quick", action="store_true", help="small sizes, fewer blocks (CI)")
    threshold(validate)
    outputs(validate)
    validate.add_argument("--workloads", type=_comma_list, help="comma-separated workload names")
    validate.add_argument("--criteria", type=_comma_list, help="comma-separated criterion ids, e.g. C1,C4")

    memory = add("memory", "measure anonymous and file-backed memory per grid size")
    memory.add_argument("--quick", action="store_true")
    memory.add_argument("--sizes", type=_positive_int_list, help="comma-separated grid sides, e.g. 1024,4096")
    outputs(memory)

    coldcache = add("coldcache", "time windows after evicting grid files from the page cache")
    coldcache.add_argument("--quick", action="store_true")
    threshold(coldcache, COLD_THRESHOLD)
    coldcache.add_argument("--workloads", type=_comma_list)
    outputs(coldcache)

    profile = add("profile", "run a workload under memray; separate MMAP records from heap")
    profile.add_argument("--workload", type=_comma_list, dest="workloads", help="workload name")
    profile.add_argument("--size", type=_positive_int)
    outputs(profile)

    selftest = add("selftest", "A/A and injected slowdowns: the gate's false-alarm rate and power")
    selftest.add_argument("--runs", type=_positive_int, default=20, help="runs per scenario (default 20)")
    selftest.add_argument("--blocks", type=_int_at_least(2), default=12, help="block pairs per run (default 12)")
    threshold(selftest)
    selftest.add_argument("--json", type=Path, help="write the self-test report as JSON here")

    clean = add("clean", "remove stale grid files and scratch directories")
    clean.add_argument("directory", nargs="?", type=Path, help="where to look (default: the temp dir)")
    clean.add_argument("--dry-run", action="store_true", help="list what would be removed")

    gate = add("gate", "judge memmap/RAM pairs in a pytest-benchmark JSON file")
    gate.add_argument("--pytest-benchmark", type=Path, required=True, dest="pytest_benchmark", metavar="PATH")
    threshold(gate)
    gate.add_argument("--json", type=Path)

    for name in sorted({*PLUGIN_ONLY_COMMANDS, *plugin_names} - set(sub.choices)):
        add(name, f"provided by an entry point in group {PLUGIN_GROUP}")
    return parser


def known_workloads() -> tuple[str, ...] | None:
    """Names in harness.workloads.WORKLOADS, or None while that module is not importable."""
    try:
        module = importlib.import_module("harness.workloads")
    except ImportError:
        return None
    names = getattr(module, "WORKLOADS", None)
    return None if names is None else tuple(names)


def _probe_writable(directory: Path, option: str, shown: Path) -> None:
    try:
        fd, probe = tempfile.mkstemp(prefix=".farm-harness-probe-", dir=directory)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise HarnessUsageError(f"{option} {shown}: directory is not writable ({exc.strerror})") from None


def check_output_dir(path: Path, option: str = "--out") -> Path:
    """Raise HarnessUsageError unless ``path`` is (or could be created as) a writable directory."""
    if path.exists():
        if not path.is_dir():
            raise HarnessUsageError(f"{option} {path}: exists and is not a directory")
        _probe_writable(path, option, path)
        return path
    ancestor = next(p for p in path.absolute().parents if p.exists())  # the root always exists
    if not ancestor.is_dir():
        raise HarnessUsageError(f"{option} {path}: {ancestor} is not a directory")
    _probe_writable(ancestor, option, path)  # nothing is created: the command makes the directory
    return path


def check_output_file(path: Path, option: str = "--json") -> Path:
    if path.is_dir():
        raise HarnessUsageError(f"{option} {path}: is a directory, expected a file path")
    check_output_dir(path.absolute().parent, option)
    return path


def check_usage(args: argparse.Namespace) -> None:
    """Central usage checks shared by every subcommand; raises HarnessUsageError naming the bad value."""
    value = getattr(args, "threshold", None)
    if value is not None and (not math.isfinite(value) or value <= 1.0):
        raise HarnessUsageError(f"--threshold must be a finite number > 1, got {value:g}")
    criteria = getattr(args, "criteria", None)
    if criteria is not None:
        args.criteria = tuple(c.upper() for c in criteria)
        unknown = [c for c in args.criteria if c not in KNOWN_CRITERIA]
        if unknown:
            raise HarnessUsageError(f"unknown criterion {', '.join(unknown)} (known: {', '.join(KNOWN_CRITERIA)})")
    workloads = getattr(args, "workloads", None)
    known = known_workloads() if workloads is not None else None
    if workloads is not None and known is not None:
        unknown = [w for w in workloads if w not in known]
        if unknown:
            raise HarnessUsageError(f"unknown workload {', '.join(unknown)} (known: {', '.join(known)})")
    if getattr(args, "out", None) is not None:
        check_output_dir(args.out, "--out")
    if getattr(args, "json", None) is not None:
        check_output_file(args.json, "--json")
    bench = getattr(args, "pytest_benchmark", None)
    if bench is not None and not bench.is_file():
        raise HarnessUsageError(f"--pytest-benchmark {bench}: no such file")
    directory = getattr(args, "directory", None)
    if directory is not None and not directory.is_dir():
        raise HarnessUsageError(f"clean {directory}: not a directory")


def use_rich(stream: object = None) -> bool:
    """Rich live displays only on an interactive terminal outside CI."""
    stream = sys.stdout if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    interactive = bool(isatty and isatty())
    return interactive and os.environ.get("CI", "").strip().lower() not in {"true", "1", "yes"}


@contextlib.contextmanager
def progress_display(description: str, total: int, plain_every: int = 1) -> Iterator[ProgressCallback]:
    """Yield a progress callback (done, total, label): a rich bar on a tty, else a plain line per step."""
    if use_rich():
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task(description, total=total)
            yield lambda done, _total, label: bar.update(task, completed=done, description=f"{description} {label}")
        return

    def plain(done: int, total_: int, label: str) -> None:
        if done % plain_every == 0 or done == total_:
            print(f"{description}: {done}/{total_} {label}", flush=True)

    yield plain


def run_selftest_command(args: argparse.Namespace) -> int:
    from harness.result import write_json_atomic
    from harness.selftest import DEFAULT_SCENARIOS, format_report, run_selftest

    with progress_display("selftest", args.runs * len(DEFAULT_SCENARIOS), len(DEFAULT_SCENARIOS)) as progress:
        report = run_selftest(args.runs, threshold=args.threshold, blocks=args.blocks, progress=progress)
    for line in format_report(report):
        print(line)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        document = {"report": report, "false_alarm_rate": report.false_alarm_rate, "power": report.power}
        write_json_atomic(document, args.json)
    return EXIT_PASS if report.acceptable else EXIT_FAIL


COMMANDS["selftest"] = run_selftest_command


def resolve_command(name: str) -> CommandFunction | None:
    """The function for a subcommand, or None when its module is not part of this build."""
    if name in COMMANDS:
        return COMMANDS[name]
    module_name, _, function_name = COMMAND_TARGETS[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            return None  # the module itself is missing; a broken import inside it propagates
        raise
    return getattr(module, function_name, None)


def plugin_commands() -> dict[str, importlib.metadata.EntryPoint]:
    """Subcommands registered by other packages (built-in commands cannot be overridden)."""
    builtin = set(COMMAND_TARGETS) | set(COMMANDS)
    found = importlib.metadata.entry_points(group=PLUGIN_GROUP)
    return {ep.name: ep for ep in found if ep.name not in builtin}


def _not_available(name: str) -> int:
    print(f"{PROG}: {name} is not available in this build", file=sys.stderr)
    return EXIT_USAGE


def _run_plugin(name: str, entry: importlib.metadata.EntryPoint | None, argv: list[str]) -> int:
    if entry is None:
        return _not_available(name)
    try:
        plugin_main = entry.load()
    except (ImportError, AttributeError):
        return _not_available(name)
    return int(plugin_main(argv) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Run `farm-harness`; return 0 PASS, 1 FAIL, 2 usage error, 3 INCONCLUSIVE."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    plugins = plugin_commands()
    try:
        if arguments and (arguments[0] in plugins or arguments[0] in PLUGIN_ONLY_COMMANDS):
            return _run_plugin(arguments[0], plugins.get(arguments[0]), arguments[1:])
        parser = build_parser(tuple(plugins))
        try:
            args = parser.parse_args(arguments)
        except SystemExit as exc:  # --help / --version
            return int(exc.code or 0) if isinstance(exc.code, (int, type(None))) else EXIT_USAGE
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        check_usage(args)
        command = resolve_command(args.command)
        if command is None:
            return _not_available(args.command)
        return command(args)
    except HarnessUsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
