"""The instruction lane: real callgrind counts of a tiny workload, an injected increase flagged, the gate's rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.results import asv_compare
from harness.results.asv_compare import INSTRUCTION_UNIT, AsvValue, compare, confirm, judge_counts, suspects
from harness.cli import main
from harness.errors import HarnessUsageError
from harness.probes.instructions import InstructionCountError, count_instructions, missing_tools
from harness.workloads.repeating_store import INJECTED, WRAPPED

needs_valgrind = pytest.mark.skipif(bool(missing_tools()), reason=f"{', '.join(missing_tools())} not installed "
                                    "(Debian: apt-get install valgrind)")
NAME = "bench_instructions.Instructions.track_instructions"


def count_value(value: float, workload: str = "store_windows") -> AsvValue:
    return AsvValue(NAME, (f"'{workload}'",), ("workload",), "track", INSTRUCTION_UNIT, "store_windows/abc", value,
                    None, None)


@pytest.fixture(scope="module")
def wrapped_counts(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path, Path]:
    """`farm-harness instructions` twice on the wrapped RAM backend: the second run judged against the first."""
    folder = tmp_path_factory.mktemp("counts")
    base, again = folder / "base.json", folder / "again.json"
    plugin = ["--plugin", "harness.workloads.repeating_store", "--workload", "store_windows", "--file-backend", WRAPPED]
    assert main(["instructions", *plugin, "--json", str(base)]) == 0
    code = main(["instructions", *plugin, "--base", str(base), "--json", str(again)])
    return code, base, again


@needs_valgrind
def test_two_fresh_processes_count_exactly_the_same_instructions(wrapped_counts, capsys) -> None:
    code, base, again = wrapped_counts
    first, second = (json.loads(p.read_text())["counts"][0] for p in (base, again))
    assert code == 0  # A/A: nothing flagged
    assert first["per_call"] == second["per_call"] and first["region_ir"] == second["region_ir"]
    # The empty region is the protocol alone; 256 get_window reads per call cost far more.
    assert 0 < first["baseline_ir"] < 100_000 < first["per_call"] < 50_000_000


@needs_valgrind
def test_an_injected_five_percent_on_the_window_path_is_flagged(wrapped_counts, tmp_path, capsys) -> None:
    _, base, _ = wrapped_counts
    out = tmp_path / "injected.json"
    code = main(["instructions", "--plugin", "harness.workloads.repeating_store", "--workload", "store_windows",
                 "--file-backend", INJECTED, "--base", str(base), "--json", str(out)])
    before, after = (json.loads(p.read_text())["counts"][0]["per_call"] for p in (base, out))
    assert code == 1 and "store_windows: flagged 1/1" in capsys.readouterr().out
    assert 1.05 <= after / before < 1.06


@needs_valgrind
def test_the_ram_count_is_real_work_of_the_named_workload() -> None:
    count = count_instructions("store_batched_windows")
    # One gather of 10,000 windows of 13x13 float32 copies at least 1.69 M values per call.
    assert count.per_call > 1_690_000 and count.calls == 2 and count.file_backend is None


def test_a_count_without_valgrind_is_a_typed_error_naming_the_tool(monkeypatch, capsys) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(InstructionCountError, match="valgrind"):
        count_instructions("store_windows")
    with pytest.raises(HarnessUsageError, match="unknown lane workload"):
        count_instructions("write_path")
    assert main(["instructions"]) == 2  # the command: a one-line usage error, exit 2


def test_counts_are_judged_by_the_factor_alone() -> None:
    assert judge_counts(1_000_000, 1_030_000, 1.02) == asv_compare.REGRESSION
    assert judge_counts(1_000_000, 1_019_000, 1.02) == asv_compare.UNCHANGED
    assert judge_counts(1_000_000, 970_000, 1.02) == asv_compare.IMPROVED
    rows = compare([count_value(1e6), count_value(1e6, "observe_all")],
                   [count_value(1.03e6), count_value(1.001e6, "observe_all")], factor=1.25)
    verdicts = {r.params: r.verdict for r in rows}
    assert verdicts == {"'store_windows'": asv_compare.REGRESSION, "'observe_all'": asv_compare.UNCHANGED}
    # No rerun: a second process counts the same, so the REGRESSION stands without one.
    assert suspects(rows) == [] and confirm(rows, [])[0].verdict == asv_compare.REGRESSION
    loose = compare([count_value(1e6)], [count_value(1.03e6)], factor=1.25, instruction_factor=1.05)
    assert loose[0].verdict == asv_compare.UNCHANGED


def test_the_command_refuses_a_base_file_it_did_not_write_with_exit_2(tmp_path, capsys) -> None:
    if missing_tools():
        pytest.skip("the valgrind check comes first")
    bad = tmp_path / "base.json"
    bad.write_text('{"counts": [{"workload": "store_windows"}]}')
    assert main(["instructions", "--base", str(bad)]) == 2
    assert "not a JSON that `farm-harness instructions --json` wrote" in capsys.readouterr().err
    assert main(["instructions", "--base", str(tmp_path / "missing.json")]) == 2
    assert main(["instructions", "--file-backend", "no-such-backend"]) == 2
    assert main(["instructions", "--plugin", "no_such_module_here", "--file-backend", WRAPPED]) == 2
