"""The `farm-harness` command line: `main` dispatches to a command of the registry (harness.commands.registry) or a plugin."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from harness.commands.commandline import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    PROG,
    Command,
    internal_error,
    load_plugin,
    new_parser,
    one_line,
    plugin_entry_points,
)
from farm_grids.limits import max_request_bytes
from harness.commands.registry import COMMANDS
from harness.errors import USER_ERRORS, HarnessUsageError

DESCRIPTION = "Acceptance harness: is the memmap path as fast and lean as RAM?"


def _plugin_help(command: Command | None, value: str) -> str:
    """A plugin's HELP line, else the first line of its docstring."""
    if command is None:
        return f"not available in this build ({value} does not load)"
    doc = (getattr(command, "__doc__", None) or "").strip().splitlines()
    return str(getattr(command, "HELP", None) or (doc[0].rstrip(".") if doc else f"provided by {value}"))


def build_parser(chosen: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command; only ``chosen``'s module is loaded for its options (all for --help)."""
    parser = new_parser(PROG, DESCRIPTION)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    listing = chosen not in COMMANDS
    for name, builtin in COMMANDS.items():
        command_parser = sub.add_parser(name, help=builtin.help, description=builtin.help,
                                        epilog=parser.epilog, formatter_class=parser.formatter_class)
        if name == chosen:
            module = builtin.load()
            module.prepare_parser(command_parser)
            command_parser.set_defaults(run=module.run)
    for name, entry in plugin_entry_points(reserved=tuple(COMMANDS)).items():
        if name != chosen and not listing:
            sub.add_parser(name)  # a name argparse accepts; its options load only when it is chosen
            continue
        plugin = load_plugin(entry)
        help_text = _plugin_help(plugin, entry.value)
        command_parser = sub.add_parser(name, help=help_text, description=help_text,
                                        epilog=parser.epilog, formatter_class=parser.formatter_class)
        if name == chosen and plugin is not None:
            plugin.prepare_parser(command_parser)
            command_parser.set_defaults(run=plugin.run)
    return parser


def _dispatch(arguments: list[str]) -> int:
    chosen = arguments[0] if arguments else None
    try:
        parser = build_parser(chosen)
    except HarnessUsageError as exc:
        print(f"{PROG} {chosen}: error: {one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exc:  # --help, or a usage error already printed in one line
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    run = getattr(args, "run", None)
    if run is None:
        print(f"{PROG}: {args.command} is not available in this build", file=sys.stderr)
        return EXIT_USAGE
    try:
        max_request_bytes()  # a malformed limit in the environment is refused before any work
        return int(run(args))
    except USER_ERRORS as exc:
        print(f"{PROG} {args.command}: error: {one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """Run `farm-harness`; 0 PASS, 1 FAIL, 2 usage or bad input, 3 INCONCLUSIVE, 4 internal error."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(arguments)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug or a broken environment, never a verdict: exit 4, not 1
        return internal_error(PROG, exc)
