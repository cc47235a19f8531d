"""Self-test bookkeeping: verdict counts per scenario, false-alarm rate, power and the text report."""

from __future__ import annotations

import pytest

from harness.errors import HarnessUsageError
from harness.acceptance.synthetic_selftest import ScenarioResult, SelftestReport, run_selftest
from harness.commands.selftest import format_report


def scenario(name: str, factor: float, passes: int, warns: int, fails: int) -> ScenarioResult:
    runs = passes + warns + fails
    return ScenarioResult(name, factor, runs, passes, warns, fails, tuple([factor] * runs))


def report(aa_fails: int, slow_fails: int, runs: int = 20) -> SelftestReport:
    return SelftestReport(
        threshold=1.25, runs=runs, blocks=12, min_block_s=0.01, duration_s=1.0,
        scenarios=(
            scenario("A/A", 1.0, runs - aa_fails, 0, aa_fails),
            scenario("1.1x", 1.1, runs - 3, 3, 0),
            scenario("1.5x", 1.5, 0, runs - slow_fails, slow_fails),
        ),
    )


@pytest.mark.parametrize(
    ("aa_fails", "slow_fails", "acceptable"),
    [(0, 20, True), (0, 19, True), (0, 18, False), (1, 20, False)],
)
def test_false_alarm_rate_power_and_acceptance(aa_fails, slow_fails, acceptable) -> None:
    result = report(aa_fails, slow_fails)
    assert result.false_alarm_rate == aa_fails / 20
    assert result.power == slow_fails / 20
    assert result.acceptable is acceptable


def test_format_report_names_every_scenario_and_both_rates() -> None:
    lines = format_report(report(0, 19))
    text = "\n".join(lines)
    assert "false-alarm rate (A/A FAIL): 0/20 = 0.00" in text
    assert "power (1.5x FAIL): 19/20 = 0.95" in text
    assert sum(line.startswith(("A/A", "1.1x", "1.5x")) for line in lines) == 3
    assert "gate OK" in text
    assert "gate NOT OK" in "\n".join(format_report(report(1, 20)))


def test_run_selftest_counts_one_verdict_per_run_and_scenario() -> None:
    progress = []
    result = run_selftest(2, blocks=3, min_block_s=0.002, warmup_blocks=0,
                          progress=lambda done, total, label: progress.append((done, total, label)))
    assert [s.name for s in result.scenarios] == ["A/A", "1.1x", "1.5x"]
    for s in result.scenarios:
        assert s.runs == 2 and s.passes + s.warns + s.fails == 2 and len(s.ratios) == 2
    assert progress[-1] == (6, 6, "run 2/2 1.5x") and len(progress) == 6
    assert result.blocks == 3 and result.duration_s > 0


@pytest.mark.parametrize("runs", [0, -1, 1.5, True])
def test_run_selftest_rejects_bad_run_counts(runs) -> None:
    with pytest.raises(HarnessUsageError, match="runs"):
        run_selftest(runs)


def test_run_selftest_needs_the_a_a_and_slow_scenarios() -> None:
    with pytest.raises(HarnessUsageError, match="scenarios"):
        run_selftest(1, scenarios=(("1.1x", 1.1),))


def test_scenario_lookup_of_an_unknown_name_raises() -> None:
    with pytest.raises(KeyError):
        report(0, 20).scenario("2x")
