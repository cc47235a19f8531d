"""A report of 30,000 memmap/RAM pairs: the ratio plot draws the worst rows (and says so), the whole report stays fast."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from harness.results.document import build_result, write_result
from harness.verdicts import Overall, judge_ratio
from reports.frames import ReportData, criteria_frame, measurements_frame, ratio_verdicts_frame
from reports.plots import MAX_RATIO_ROWS, build_ratio_figure, build_plots
from reports.writer import write_report

PAIRS = 30_000
THRESHOLD = 1.25


def ratio_rows(count: int) -> list[dict]:
    """``count`` gate-like rows; a few clearly FAIL so the worst rows are known."""
    rng = np.random.default_rng(0)
    ratios = rng.uniform(0.8, 1.2, count)
    ratios[::1000] = 2.0 + np.arange(len(ratios[::1000])) / 100  # 30 FAIL rows, the worst of all
    rows = []
    for index, ratio in enumerate(ratios):
        low, high = ratio - 0.02, ratio + 0.02
        rows.append({"workload": f"bench_{index}", "size": 256, "cache": "warm", "ratio": ratio, "ci_low": low,
                     "ci_high": high, "threshold": THRESHOLD, "verdict": judge_ratio(low, high, THRESHOLD).value,
                     "ram_median_s": 1e-4, "memmap_median_s": 1e-4 * ratio, "ram_rounds": 60, "memmap_rounds": 60,
                     "interval": "bootstrap 60+60 rounds"})
    return rows


def test_ratio_plot_of_30000_rows_draws_the_worst_rows_in_a_few_artists() -> None:
    rows = ratio_rows(PAIRS)
    data = ReportData(measurements=measurements_frame([]), criteria=criteria_frame([]),
                      ratio_verdicts=ratio_verdicts_frame(rows), summary=None, sources=("big.json",))
    started = time.perf_counter()
    figure = build_ratio_figure(data)
    elapsed = time.perf_counter() - started
    axes = figure.axes[0]
    labels = [tick.get_text() for tick in axes.get_yticklabels()]
    assert len(labels) == MAX_RATIO_ROWS
    fails = {f"bench_{i} 256 warm" for i in range(0, PAIRS, 1000)}
    assert fails <= set(labels) and labels[0] == "bench_29000 256 warm"  # the largest FAIL ratio leads
    assert len(axes.containers) <= 3  # one errorbar per verdict colour, not one per row
    assert f"{MAX_RATIO_ROWS} of {PAIRS} rows, worst first" in axes.get_title()
    assert elapsed < 10  # one by one, 30,000 errorbars took about 270 s


def test_few_rows_are_all_drawn_in_table_order() -> None:
    rows = ratio_rows(5)
    data = ReportData(measurements=measurements_frame([]), criteria=criteria_frame([]),
                      ratio_verdicts=ratio_verdicts_frame(rows), summary=None, sources=("small.json",))
    labels = [tick.get_text() for tick in build_ratio_figure(data).axes[0].get_yticklabels()]
    assert labels == [f"bench_{i} 256 warm" for i in range(5)]
    assert [plot.caption for plot in build_plots(data)] == ["memmap/RAM ratio per workload"]


@pytest.mark.slow
def test_report_of_30000_pairs_is_written_within_30_seconds(tmp_path: Path) -> None:
    result = build_result(verdict=Overall.FAIL, mode="full", threshold=THRESHOLD, criteria=(), duration_s=1.0,
                          ratios=ratio_rows(PAIRS), machine={"hostname": "box"}, commit=None)
    source = write_result(result, tmp_path / "big.json")
    started = time.perf_counter()
    written = write_report([source], tmp_path / "report")
    elapsed = time.perf_counter() - started
    assert elapsed <= 30, f"{elapsed:.1f} s"
    assert {path.name for path in written} >= {"report.md", "report.html", "plot_ratios.png"}
    html = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert f"{MAX_RATIO_ROWS} of {PAIRS} rows, worst first" in html
    assert html.count("<tr>") > PAIRS  # the tables still list every pair
