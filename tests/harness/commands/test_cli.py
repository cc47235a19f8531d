"""The farm-harness CLI: the command registry, exit codes, one-line usage errors, internal errors and plugins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from farm_grids import errors
from harness import cli, progress
from harness.commands import registry
from harness.commands import clean
from harness.commands import commandline
from harness.commands import validate
from harness.errors import HarnessUsageError
from harness.verdicts import Overall

REPO = Path(__file__).resolve().parents[3]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_usage_error(code: int, err: str, fragment: str, command: str = "validate") -> None:
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"farm-harness {command}: error:"), err
    assert fragment in err


@pytest.mark.parametrize("value", ["1.0", "1", "nan", "-3", "inf", "0.5"])
def test_bad_threshold_is_a_usage_error(capsys, value) -> None:
    code, _, err = run(capsys, "validate", "--threshold", value)
    assert_usage_error(code, err, "argument --threshold: must be a finite number > 1")


def test_unparseable_threshold_is_a_usage_error(capsys) -> None:
    code, _, err = run(capsys, "validate", "--threshold", "fast")
    assert_usage_error(code, err, "invalid float value: 'fast'")


def test_unknown_criterion_is_a_usage_error(capsys) -> None:
    code, _, err = run(capsys, "validate", "--criteria", "C1,C10")
    assert_usage_error(code, err, "unknown criterion C10")


def test_quick_and_big_together_are_a_usage_error(capsys) -> None:
    code, _, err = run(capsys, "validate", "--quick", "--big", "--criteria", "C9")
    assert_usage_error(code, err, "--quick and --big are exclusive")


def test_unknown_workload_is_a_usage_error(capsys) -> None:
    code, _, err = run(capsys, "validate", "--workloads", "observe_all,teleport")
    assert_usage_error(code, err, "unknown workload teleport")


def test_out_pointing_at_a_file_is_a_usage_error(capsys, tmp_path) -> None:
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    code, _, err = run(capsys, "validate", "--out", str(a_file))
    assert_usage_error(code, err, "is not a directory")
    code, _, err = run(capsys, "validate", "--out", str(a_file / "below"))
    assert_usage_error(code, err, "is not a directory")
    assert [p.name for p in tmp_path.iterdir()] == ["file.txt"]  # no probe files left behind


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else True, reason="root can write anywhere")
def test_out_in_a_read_only_directory_is_a_usage_error(capsys, tmp_path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code, _, err = run(capsys, "validate", "--out", str(locked))
    assert_usage_error(code, err, "not writable")


def test_json_pointing_at_a_directory_is_a_usage_error(capsys, tmp_path) -> None:
    code, _, err = run(capsys, "validate", "--json", str(tmp_path))
    assert_usage_error(code, err, "is a directory")


def test_unknown_command_is_a_usage_error(capsys) -> None:
    code, _, err = run(capsys, "teleport")
    assert code == 2 and err.count("\n") == 1 and err.startswith("farm-harness: error:")
    assert "invalid choice: 'teleport'" in err


def test_no_command_prints_help_and_fails(capsys) -> None:
    code, _, err = run(capsys)
    assert code == 2 and "selftest" in err


def test_help_lists_every_command_and_the_exit_codes(capsys) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    listed = {line.split()[0] for line in out.split("positional arguments:")[1].split("options:")[0].splitlines()[2:]
              if line.startswith("    ") and not line.startswith("      ")}
    assert listed == {*cli.COMMANDS, "report", "bench-summary"}
    for code_line in ("0  PASS", "1  FAIL", "2  usage error or bad input", "3  INCONCLUSIVE", "4  internal error"):
        assert code_line in out


@pytest.mark.parametrize("command", [*cli.COMMANDS, "report"])
def test_every_command_has_help_with_the_exit_codes(capsys, command) -> None:
    code, out, _ = run(capsys, command, "--help")
    assert code == 0 and out.startswith(f"usage: farm-harness {command}") and "4  internal error" in out


def test_missing_gate_input_is_a_usage_error(capsys, tmp_path) -> None:
    code, _, err = run(capsys, "gate", "--pytest-benchmark", str(tmp_path / "none.json"))
    assert_usage_error(code, err, "no such file", command="gate")


def test_a_command_whose_module_does_not_import_is_an_internal_error(capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(commandline.CRASH_DIR_ENV, str(tmp_path))
    monkeypatch.setitem(cli.COMMANDS, "validate", registry.Builtin("harness.no_such_module_here", "broken"))
    code, out, err = run(capsys, "validate", "--quick")
    assert (code, out) == (commandline.EXIT_INTERNAL, "")
    assert err.count("\n") == 1 and "internal error: ModuleNotFoundError" in err
    (saved,) = tmp_path.iterdir()
    assert str(saved) in err and "harness.no_such_module_here" in saved.read_text()


def test_a_command_that_raises_exits_4_with_one_line_and_a_saved_traceback(capsys, monkeypatch, tmp_path) -> None:
    def broken_clean(directory, *, dry_run=False):
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setenv(commandline.CRASH_DIR_ENV, str(tmp_path / "crashes"))
    (tmp_path / "crashes").mkdir()
    monkeypatch.setattr(clean, "clean", broken_clean)
    code, _, err = run(capsys, "clean", str(tmp_path))
    assert code == commandline.EXIT_INTERNAL != commandline.EXIT_FAIL
    assert err.count("\n") == 1 and "RuntimeError: disk on fire second line" in err
    (saved,) = (tmp_path / "crashes").iterdir()
    assert f"traceback in {saved}" in err and "broken_clean" in saved.read_text()


@pytest.mark.parametrize("error", [
    errors.ConfigError("observation.radius: must be >= 1"), errors.InvalidGridSpecError("bad shape\n(0, 4)"),
    errors.RequestTooLargeError("a grid needs 8.0 GiB"), errors.ObjectStoreError("s3://b: NoSuchBucket"),
    errors.StorageDirectoryError("/ro: not writable"), errors.StoreLockedError("held by pid 7"),
    errors.DiskFullError("no room", "/full/g.dat"), HarnessUsageError("--x is bad"),
], ids=lambda e: type(e).__name__)
def test_an_engine_error_the_input_caused_is_exit_2_in_one_line(capsys, monkeypatch, tmp_path, error) -> None:
    def failing_clean(directory, *, dry_run=False):
        raise error

    monkeypatch.setenv(commandline.CRASH_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(clean, "clean", failing_clean)
    code, _, err = run(capsys, "clean", str(tmp_path))
    assert_usage_error(code, err, commandline.one_line(error), command="clean")
    assert list(tmp_path.iterdir()) == [], "a usage error saves no traceback"


def test_registered_command_receives_checked_arguments(capsys, monkeypatch, tmp_path) -> None:
    seen = []

    def fake_run(args) -> int:
        seen.append(args)
        return commandline.exit_code(Overall.INCONCLUSIVE)

    monkeypatch.setattr(validate, "run", fake_run)
    code, _, _ = run(capsys, "validate", "--quick", "--criteria", "c1,C4", "--out", str(tmp_path / "new"))
    assert code == 3
    assert seen[0].criteria == ("C1", "C4") and seen[0].quick and seen[0].threshold == 1.25
    assert not (tmp_path / "new").exists()  # usage checks create nothing
    code, _, _ = run(capsys, "validate", "--threshold", "0.9")
    assert code == 2 and len(seen) == 1  # bad usage never reaches the command


def test_exit_codes_of_overall_verdicts() -> None:
    assert [commandline.exit_code(v) for v in (Overall.PASS, Overall.FAIL, Overall.INCONCLUSIVE)] == [0, 1, 3]


def test_without_a_report_plugin_report_is_an_unknown_command(capsys, monkeypatch) -> None:
    monkeypatch.setattr(cli, "plugin_entry_points", lambda reserved=(): {})  # an install without reports
    code, _, err = run(capsys, "report", "--anything")
    assert code == 2 and "invalid choice: 'report'" in err and err.count("\n") == 1


def test_entry_point_plugin_gets_its_options_and_runs(capsys, monkeypatch, tmp_path) -> None:
    (tmp_path / "farm_harness_fake_plugin.py").write_text(
        '"""Fake report command."""\n'
        "def prepare_parser(parser):\n    parser.add_argument('--format')\n    parser.add_argument('inputs', nargs='*')\n"
        "def run(args):\n    print('plugin got', args.format, args.inputs)\n    return 3\n"
    )
    dist = tmp_path / "farm_harness_fake_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: farm-harness-fake-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[farm_harness.commands]\nfakereport = farm_harness_fake_plugin\nvalidate = farm_harness_fake_plugin\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins = commandline.plugin_entry_points(reserved=tuple(cli.COMMANDS))
    assert "fakereport" in plugins and "validate" not in plugins  # built-in commands cannot be taken
    code, out, _ = run(capsys, "fakereport", "--format", "md", "x.json")
    assert code == 3 and out == "plugin got md ['x.json']\n"
    code, out, _ = run(capsys, "--help")
    assert "fakereport" in out and "Fake report command" in out


def test_selftest_with_two_runs_prints_the_rates_and_exits_by_them(capsys, tmp_path) -> None:
    # Real timing on a shared machine: the rates themselves belong to the harness run
    # (`farm-harness selftest --runs 20`), not to a unit test; this checks the wiring.
    report_path = tmp_path / "deep" / "selftest.json"
    code, out, _ = run(capsys, "selftest", "--synthetic", "--runs", "2", "--json", str(report_path))
    saved = json.loads(report_path.read_text())
    assert saved["report"]["runs"] == 2
    assert f"false-alarm rate (A/A FAIL): {round(saved['false_alarm_rate'] * 2)}/2" in out
    assert f"power (1.5x FAIL): {round(saved['power'] * 2)}/2" in out
    assert "selftest: 6/6" in out  # plain progress lines when stdout is not a terminal
    acceptable = saved["false_alarm_rate"] == 0.0 and saved["power"] >= 0.95
    assert code == (0 if acceptable else 1), out


def test_python_dash_m_harness_runs_the_cli() -> None:
    completed = subprocess.run([sys.executable, "-m", "harness", "validate", "--threshold", "nan"], cwd=REPO,
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 2
    assert completed.stderr.strip() == "farm-harness validate: error: argument --threshold: must be a finite number > 1, got nan"


@pytest.mark.parametrize(("tty", "ci", "expected"), [(True, "", True), (True, "true", False), (False, "", False)])
def test_rich_only_on_a_terminal_outside_ci(monkeypatch, tty, ci, expected) -> None:
    monkeypatch.setenv("CI", ci)
    stream = types.SimpleNamespace(isatty=lambda: tty)
    assert progress.use_rich(stream) is expected
