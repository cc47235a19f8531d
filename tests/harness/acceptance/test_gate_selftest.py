"""The real gate's self-test: tallies and what they say, busy processes beside it, and one real run of the
criteria against the unchanged and the over-reading backend."""

from __future__ import annotations

import os

import pytest

from harness.probes.background_load import busy_processes
from harness.errors import HarnessUsageError
from harness.acceptance.performance import TimingSettings
from harness.acceptance.gate_selftest import GateSelftestReport, Tally, format_gate_report, run_gate_selftest
from harness.workloads.injected_backends import register_scenarios
from harness.verdicts import Verdict

TINY = TimingSettings(blocks=6, min_block_s=0.002, warmup_blocks=1, time_budget_s=0.3, extra_row_s=0.2, extra_run_s=0.5)


def _tally(scenario, criterion, passes=0, warns=0, fails=0):
    tally = Tally(scenario, criterion)
    for verdict, count in ((Verdict.PASS, passes), (Verdict.WARN, warns), (Verdict.FAIL, fails)):
        for _ in range(count):
            tally = tally.add(verdict, f"{scenario} {criterion} why")
    return tally


def _report(*tallies):
    return GateSelftestReport(20, 1, register_scenarios(), tallies, 1.0)


def test_a_gate_that_never_false_alarms_and_catches_both_faults_is_ok() -> None:
    report = _report(_tally("A/A", "C4", passes=19, warns=1), _tally("A/A", "C9", passes=20),
                     _tally("1.1x", "C4", passes=15, warns=5), _tally("1.5x", "C4", fails=19, warns=1),
                     _tally("2x-bytes", "C9", fails=20))
    assert report.acceptable and report.false_alarm_rate("C4") == 0.0
    lines = format_gate_report(report)
    assert "C4 power (1.5x FAIL): 19/20 (needs >= 0.95)" in lines and "C9 power (2x-bytes FAIL): 20/20 (needs >= 0.95)" in lines
    assert lines[-1] == "gate OK"


@pytest.mark.parametrize(("tally", "problem"), [
    (_tally("A/A", "C9", passes=19, fails=1), "A/A FAILed C9 in 1/20"),
    (_tally("1.1x", "C4", passes=19, fails=1), "1.1x FAILed C4 in 1/20"),
    (_tally("1.5x", "C4", fails=18, warns=2), "1.5x FAILed C4 in only 18/20"),
    (_tally("2x-bytes", "C9", fails=10, passes=10), "2x-bytes FAILed C9 in only 10/20"),
])
def test_a_false_alarm_or_a_missed_fault_makes_the_gate_not_ok(tally, problem) -> None:
    report = _report(tally)
    assert not report.acceptable and problem in report.problems()[0]
    assert format_gate_report(report)[-1].startswith("gate NOT OK")


def test_busy_processes_run_beside_the_block_and_are_stopped_after_it() -> None:
    with busy_processes(2) as pids:
        assert len(pids) == 2
        for pid in pids:
            os.kill(pid, 0)  # alive
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    with pytest.raises(HarnessUsageError):
        with busy_processes(-1):
            pass


def test_bad_scenarios_or_criteria_are_usage_errors() -> None:
    with pytest.raises(HarnessUsageError, match="unknown scenario"):
        run_gate_selftest(1, scenarios=("3x",))
    with pytest.raises(HarnessUsageError, match="judges C4, C9"):
        run_gate_selftest(1, criteria=("C6",))


def test_the_real_criteria_run_on_the_injected_backends() -> None:
    report = run_gate_selftest(1, scenarios=("A/A", "2x-bytes"), timing=TINY, every_criterion=True)
    assert {(t.scenario, t.criterion) for t in report.tallies} == {
        ("A/A", "C4"), ("A/A", "C9"), ("2x-bytes", "C4"), ("2x-bytes", "C9")}
    assert all(t.runs == 1 for t in report.tallies)
    over_reading = report.tally("2x-bytes", "C9")
    assert over_reading.fails == 1 and over_reading.details[0].startswith("FAIL: ")
    assert "read" in over_reading.details[0]  # the bytes line caught it


def test_by_default_each_scenario_faces_the_criteria_it_is_aimed_at() -> None:
    report = run_gate_selftest(1, scenarios=("2x-bytes",), criteria=("C4",))
    assert report.tallies == ()  # the over-reading backend is aimed at C9 alone
