"""The sequential rule: its confidence sequence decides on both sides of the line, keeps its false-alarm
rate under a look after every pair (by simulation), and stops or extends real paired timing."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from harness.errors import HarnessUsageError
from harness.probes.sequential import (
    ALPHA,
    SamplingBudget,
    confidence_sequence,
    decided,
    measure_until_decided,
    rank_margin,
    sequential_verdict,
    simulate_false_alarms,
)
from harness.verdicts import Verdict

P, W, F = Verdict.PASS, Verdict.WARN, Verdict.FAIL
LINE = 1.25


def logs(*ratios: float) -> np.ndarray:
    return np.log(np.array(ratios))


@pytest.mark.parametrize(("ratios", "expected"), [
    ([1.05] * 16, P),  # every pair well within the line
    ([1.40] * 16, F),  # every pair above it
    ([1.05] * 8 + [1.40] * 8, W),  # half each side: straddles, more pairs wanted
    ([1.05] * 5, W),  # five pairs cannot decide anything yet
    ([1.05] * 15 + [9.0], P),  # one preempted pair counts once, however long it was
    ([1.40] * 15 + [0.1], F),
])
def test_the_sequence_decides_on_both_sides_of_the_line(ratios, expected) -> None:
    assert sequential_verdict(logs(*ratios), LINE) is expected


def test_the_interval_brackets_the_median_and_narrows_with_pairs() -> None:
    rng = np.random.default_rng(1)
    values = np.log(1.1) + 0.05 * rng.standard_normal(200)
    early, late = confidence_sequence(values[:20]), confidence_sequence(values)
    assert early.low < 1.1 < early.high and late.low < 1.1 < late.high
    assert late.high - late.low < early.high - early.low
    assert confidence_sequence(values[:5]).low == 0.0 and math.isinf(confidence_sequence(values[:5]).high)
    assert rank_margin(10) >= 1 > rank_margin(9)  # ten pairs all on one side is the earliest decision


@pytest.mark.parametrize("heavy_tails", [False, True])
@pytest.mark.parametrize("max_pairs", [16, 60, 400])
def test_a_ratio_at_its_line_fails_at_most_alpha_however_often_it_is_looked_at(heavy_tails, max_pairs) -> None:
    rate = simulate_false_alarms(2000, max_pairs=max_pairs, heavy_tails=heavy_tails, seed=max_pairs)
    assert rate <= ALPHA


def test_a_fixed_interval_looked_at_after_every_pair_would_not_keep_its_rate() -> None:
    """The reason for the rule: a 95 % t-interval re-judged after every pair FAILs an at-the-line ratio often."""
    from scipy import stats

    rng = np.random.default_rng(0)
    line, fails = math.log(LINE), 0
    for row in line + 0.1 * rng.standard_normal((400, 100)):
        for n in range(5, 101):
            mean, half = row[:n].mean(), stats.t.ppf(0.975, n - 1) * row[:n].std(ddof=1) / math.sqrt(n)
            if mean - half > line or mean + half <= line:
                fails += mean - half > line
                break
    assert fails / 400 > ALPHA  # while the sequence stays within it (test above)


def test_bad_input_is_a_typed_error() -> None:
    with pytest.raises(HarnessUsageError):
        confidence_sequence([0.1, math.nan])
    with pytest.raises(HarnessUsageError):
        confidence_sequence([0.1, 0.2], alpha=1.5)
    with pytest.raises(HarnessUsageError):
        simulate_false_alarms(0, max_pairs=10)


def _work(repeats: int):
    data = np.arange(20_000, dtype=np.float64)

    def run() -> float:
        total = 0.0
        for _ in range(repeats):
            total += float(data.sum())
        return total

    return run


def test_a_clear_slowdown_is_decided_early_and_reported_with_the_sequence() -> None:
    timing = measure_until_decided(_work(10), _work(30), LINE, blocks=200, min_block_s=0.002, warmup_blocks=1)
    assert timing.interval == "confidence sequence"
    assert timing.blocks < 200 and timing.ci_low > LINE  # stopped once the sequence was above the line
    assert decided(timing.baseline_block_s, timing.candidate_block_s, LINE)


def test_an_undecided_ratio_gets_more_pairs_within_its_budget_only() -> None:
    same = _work(10)
    budget = SamplingBudget(seconds=0.6, per_row_s=0.4)
    started = time.perf_counter()
    # A/A against a line of 1.0: the median sits on the line, so it stays undecided until the grant runs out.
    timing = measure_until_decided(same, same, 1.0, budget=budget, blocks=6, min_block_s=0.002, warmup_blocks=0,
                                   time_budget_s=0.05)
    spent = time.perf_counter() - started
    assert timing.blocks > 6 and spent < 30  # went on, and stopped (at its grant, give or take a starved pair)
    assert budget.left_s < 0.6 and budget.grant() <= budget.left_s  # what it used came out of the run's budget
    empty = SamplingBudget(seconds=0.0, per_row_s=5.0)
    again = measure_until_decided(same, same, 1.0, budget=empty, blocks=6, min_block_s=0.002, warmup_blocks=0)
    assert again.blocks == 6  # nothing left: the run stays at its pairs, the verdict stays WARN
