"""validate: the orchestration on tiny real worlds, injected failures, Ctrl-C clean-up and the CLI end to end."""

from __future__ import annotations

import json
import os
import tempfile

import pytest

from tests.harness import faulty_stores
from harness import cli
from harness.commands import commandline
from harness.commands import validate
from harness.probes.cold_windows import COLD_FLOOR_RATIO
from harness.acceptance.performance import REQUIRED_WORKLOADS, TimingSettings
from harness.acceptance.plan import ValidationPlan
from harness.acceptance.validation import run_validation
from harness.verdicts import Overall, Verdict

# Six pairs cannot decide a row (the sequential rule needs ten all one side): undecided rows get more.
TINY_TIMING = TimingSettings(blocks=6, min_block_s=0.005, warmup_blocks=1, time_budget_s=0.5, extra_row_s=5.0,
                             extra_run_s=10.0)


def tiny_plan(tmp_path, **changes) -> ValidationPlan:
    base = {"timing_sizes": (64,), "memory_sizes": (64, 128), "timing": TINY_TIMING, "cold_trials": 2,
            "scratch_parent": tmp_path}
    return ValidationPlan(**{**base, **changes})


def verdicts(outcome) -> dict[str, Verdict]:
    return {c.id: c.verdict for c in outcome.criteria}


def test_functional_criteria_pass_on_the_engine(tmp_path) -> None:
    outcome = run_validation(tiny_plan(tmp_path, criteria=("C1", "C2", "C3", "C5", "C8")))
    assert verdicts(outcome) == dict.fromkeys(("C1", "C2", "C3", "C5", "C8"), Verdict.PASS)
    assert outcome.verdict is Overall.PASS
    assert list(tmp_path.iterdir()) == []


def test_a_slow_store_fails_performance_and_cold_rows_stay_informational(tmp_path) -> None:
    plan = tiny_plan(tmp_path, criteria=("C4", "C7"), workloads=("resource_windows", "batched_windows"))
    outcome = run_validation(plan, file_backend=faulty_stores.backend(faulty_stores.SlowStore))
    c4 = next(c for c in outcome.criteria if c.id == "C4")
    assert c4.verdict is Verdict.FAIL and c4.ci_low > plan.threshold
    cold = [r for r in outcome.ratios if r["cache"] == "cold"]
    assert {r["workload"] for r in cold} == {"resource_windows", "batched_windows"}
    for r in cold:  # informational: PASS within its line (the floor's, when read), otherwise WARN, never FAIL
        within = r["floor_ratio"] <= COLD_FLOOR_RATIO if r["floor_ratio"] is not None else r["ci_high"] <= r["threshold"]
        assert r["verdict"] == ("PASS" if within else "WARN"), r
        assert r["gating"] is False
    # Only two workloads ran: coverage of the other structures was skipped, not measured.
    assert verdicts(outcome)["C7"] is Verdict.WARN
    assert list(tmp_path.iterdir()) == []


def test_a_workload_that_raises_fails_performance_and_names_the_error(tmp_path) -> None:
    def broken_store(*args, **kwargs):
        raise OSError("disk on fire")

    outcome = run_validation(tiny_plan(tmp_path, criteria=("C4",), workloads=("resource_windows",)),
                             file_backend=faulty_stores.backend(broken_store))
    c4 = outcome.criteria[0]
    assert c4.verdict is Verdict.FAIL and "disk on fire" in c4.details


def test_performance_is_not_a_pass_without_every_required_workload(tmp_path) -> None:
    outcome = run_validation(tiny_plan(tmp_path, criteria=("C4",), workloads=("temporal_decay",)))
    c4 = outcome.criteria[0]
    assert c4.verdict is not Verdict.PASS
    assert "not measured" in c4.details and REQUIRED_WORKLOADS[0] in c4.details


def test_ctrl_c_in_a_workload_removes_every_temp_file(tmp_path) -> None:
    plan = tiny_plan(tmp_path, criteria=("C4",), workloads=("resource_windows",))
    with pytest.raises(KeyboardInterrupt):
        run_validation(plan, file_backend=faulty_stores.backend(faulty_stores.InterruptingStore))
    assert list(tmp_path.iterdir()) == []


def test_report_is_skipped_with_one_line_when_no_report_command_is_installed(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(commandline, "plugin_entry_points", lambda: {})  # as in an install without reports
    validate.write_report(tmp_path / "r.json", tmp_path / "out")
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("report skipped")
    assert not (tmp_path / "out").exists()


def test_plain_table_shows_criteria_ratios_and_the_verdict(tmp_path, capsys) -> None:
    outcome = run_validation(tiny_plan(tmp_path, criteria=("C4", "C8"), workloads=("resource_windows",)))
    validate.print_outcome(outcome, rich_output=False)
    out = capsys.readouterr().out
    assert "C8" in out and "resource_windows" in out and "cold" in out and "(info)" in out
    assert out.rstrip().splitlines()[-1].startswith(f"overall: {outcome.verdict.value}")


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """The system temp dir for this test: scratch dirs go here, so leftovers are visible."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return scratch


def test_cli_validate_writes_json_and_report(tmp_path, private_tmp, capsys) -> None:
    out_dir, json_path = tmp_path / "out", tmp_path / "deep" / "result.json"
    code = cli.main(["validate", "--quick", "--criteria", "C1,C3,C8", "--out", str(out_dir),
                     "--json", str(json_path)])
    printed = capsys.readouterr().out
    assert code == commandline.EXIT_PASS, printed
    document = json.loads(json_path.read_text())
    assert document["verdict"] == "PASS" and [c["id"] for c in document["criteria"]] == ["C1", "C3", "C8"]
    assert "overall: PASS" in printed
    # The report comes through the `report` entry point (reports is installed with the project).
    assert (out_dir / "report.md").exists() and f"report: {len(os.listdir(out_dir))} files in {out_dir}" in printed
    assert os.listdir(private_tmp) == []


def test_cli_validate_ctrl_c_exits_130_and_leaves_no_scratch(tmp_path, private_tmp, monkeypatch, capsys) -> None:
    def interrupting_plan(quick, **changes):
        return tiny_plan(tmp_path, criteria=("C4",), workloads=("resource_windows",))

    monkeypatch.setattr(ValidationPlan, "for_mode", staticmethod(interrupting_plan))
    original = validate.run_validation
    monkeypatch.setattr(validate, "run_validation",
                        lambda plan, **kw: original(plan, file_backend=faulty_stores.backend(faulty_stores.InterruptingStore), **kw))
    code = cli.main(["validate", "--quick", "--out", str(tmp_path / "out")])
    assert code == commandline.EXIT_INTERRUPTED
    assert "interrupted" in capsys.readouterr().err
    assert os.listdir(private_tmp) == [] and [p.name for p in tmp_path.iterdir()] == ["tmp"]


@pytest.mark.parametrize(("argv", "fragment"), [
    (["--workloads", "teleport"], "unknown workload teleport"),
    (["--criteria", "C1,C10"], "unknown criterion C10"),
    (["--threshold", "1"], "argument --threshold: must be a finite number > 1"),
    (["--threshold", "nan"], "argument --threshold: must be a finite number > 1"),
])
def test_cli_validate_bad_input_is_one_line_and_exit_2(argv, fragment, private_tmp, capsys) -> None:
    code = cli.main(["validate", "--quick", *argv])
    err = capsys.readouterr().err
    assert code == commandline.EXIT_USAGE and err.count("\n") == 1 and fragment in err
    assert os.listdir(private_tmp) == []


def test_cli_validate_unwritable_out_is_exit_2(tmp_path, private_tmp, capsys) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code = cli.main(["validate", "--quick", "--out", str(blocker / "sub")])
    err = capsys.readouterr().err
    assert code == commandline.EXIT_USAGE and err.count("\n") == 1 and "--out" in err


def test_a_chunked_backend_runs_what_applies_and_lists_the_rest_with_reasons(tmp_path) -> None:
    plan = tiny_plan(tmp_path, backend="zarr", criteria=("C1", "C2", "C3", "C5", "C6"))
    outcome = run_validation(plan)
    # Observations, persistence through a reopen by the zarr backend itself, and tensors apply.
    assert verdicts(outcome) == dict.fromkeys(("C2", "C3", "C5"), Verdict.PASS)
    assert outcome.verdict is Overall.PASS and outcome.scope.backend == "zarr"
    skipped = outcome.scope.not_applicable
    assert set(skipped) == {"C1", "C4 cold rows", "C6", "C9"} and all("chunks" in reason for reason in skipped.values())
    assert list(tmp_path.iterdir()) == []


def test_the_memmap_backend_skips_nothing(tmp_path) -> None:
    outcome = run_validation(tiny_plan(tmp_path, criteria=("C1",)))
    assert outcome.scope.backend == "memmap" and outcome.scope.not_applicable == {}
    assert verdicts(outcome) == {"C1": Verdict.PASS}


def test_cli_validate_backend_zarr_writes_the_scope_into_json_and_table(tmp_path, private_tmp, capsys) -> None:
    json_path = tmp_path / "result.json"
    code = cli.main(["validate", "--quick", "--backend", "zarr", "--criteria", "C1,C3", "--out", str(tmp_path / "out"),
                     "--json", str(json_path)])
    printed = capsys.readouterr().out
    assert code == commandline.EXIT_PASS, printed
    document = json.loads(json_path.read_text())
    assert document["backend"] == "zarr" and [c["id"] for c in document["criteria"]] == ["C3"]
    assert set(document["not_applicable"]) == {"C1", "C4 cold rows", "C6", "C9"}
    assert any(line.startswith("C1") and " n/a " in line for line in printed.splitlines())
    assert os.listdir(private_tmp) == []


def test_cli_validate_unknown_backend_is_exit_2(private_tmp, capsys) -> None:
    code = cli.main(["validate", "--quick", "--backend", "floppy"])
    assert code == commandline.EXIT_USAGE and "floppy" in capsys.readouterr().err
    assert os.listdir(private_tmp) == []
