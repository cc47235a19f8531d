"""Renderer tests: golden Markdown, FAIL visible in every format, JUnit counts, HTML, CSV/JSON, plots."""

from __future__ import annotations

import io
import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest

from reports.frames import ReportData
from reports.html import build_html
from reports.junit import build_junit
from reports.loaders import load_sources
from reports.markdown import build_markdown, build_markdown_table
from reports.plots import build_history_figure, build_plots
from reports.tables import Table, format_bytes, format_seconds
from reports.tabular import build_csvs, build_json
from reports.writer import FORMATS, build_report_files

DATA = Path(__file__).parent / "data"
EXPECTED_MARKDOWN = DATA / "expected_report.md"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_markdown_matches_the_golden_file(report_data: ReportData) -> None:
    markdown = build_markdown(report_data)
    if os.environ.get("REPORTS_REGENERATE_GOLDEN") == "1":
        EXPECTED_MARKDOWN.write_text(markdown, encoding="utf-8")
        pytest.skip(f"regenerated {EXPECTED_MARKDOWN}; review the diff before committing")
    assert markdown == EXPECTED_MARKDOWN.read_text(encoding="utf-8")


def _table_rows(markdown: str, heading: str) -> list[list[str]]:
    """The body cells of the first table under ``heading``."""
    lines = markdown.split(heading, 1)[1].strip().splitlines()
    table = [line for line in lines[: next((i for i, l in enumerate(lines) if not l.startswith("|")), len(lines))]]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in table[2:]]


def test_the_golden_markdown_agrees_with_the_input_it_was_made_from() -> None:
    """The golden file came from the renderer; this checks it cell by cell against the input JSON, by hand."""
    data = json.loads((DATA / "harness_result.json").read_text(encoding="utf-8"))
    golden = EXPECTED_MARKDOWN.read_text(encoding="utf-8")
    counts = {v: sum(c["verdict"] == v for c in data["criteria"]) for v in ("PASS", "WARN", "FAIL")}
    assert golden.startswith(f"# farm-grids report: {data['verdict']}\n")
    assert (f"**Overall verdict: {data['verdict']}** — {counts['PASS']} PASS, {counts['WARN']} WARN, "
            f"{counts['FAIL']} FAIL of {len(data['criteria'])} criteria; mode {data['mode']}; "
            f"memmap/RAM threshold {data['threshold']}.") in golden
    criteria = _table_rows(golden, "## Criteria")
    assert [(row[0].split()[0], row[1]) for row in criteria] == [(c["id"], c["verdict"]) for c in data["criteria"]]
    for row, criterion in zip(criteria, data["criteria"]):
        assert row[0] == f"{criterion['id']} {criterion['name']}"
        assert row[5] == criterion["details"].replace("|", "\\|")
    ratios = _table_rows(golden, "## memmap/RAM ratios")
    assert len(ratios) == len(data["ratios"])
    for row, ratio in zip(ratios, data["ratios"]):
        assert row[:3] == [ratio["workload"], str(ratio["size"]), ratio["cache"]]
        assert row[5:] == [f"{ratio['ratio']:.3f}", f"[{ratio['ci_low']:.3f}, {ratio['ci_high']:.3f}]",
                           f"{ratio['threshold']:.3f}", ratio["verdict"]]
    memory = _table_rows(golden, "## Memory")
    # One row per (layout, size) probe; columns: layout, size, grid, ..., file pages resident (9th).
    records = {(m.get("layout", "rows"), m["size"]): m for m in data["memory"]}
    assert sorted((row[0], int(row[1])) for row in memory) == sorted(records)
    for row in memory:
        m = records[(row[0], int(row[1]))]
        assert int(row[8]) == m["pages_touched"]
        assert row[2] == (f"{m['grid_bytes'] / 1024:.1f} KiB" if m["grid_bytes"] < 2**20
                          else f"{m['grid_bytes'] / 2**20:.1f} MiB")


def test_markdown_puts_the_overall_verdict_first_then_criteria_ratios_memory(report_data: ReportData) -> None:
    markdown = build_markdown(report_data)
    assert markdown.startswith("# farm-grids report: FAIL\n\n**Overall verdict: FAIL**")
    order = [markdown.index(title) for title in
             ("## Criteria", "## memmap/RAM ratios", "## Memory", "## Benchmarks")]
    assert order == sorted(order)


def _criterion_row(text: str, criterion: str) -> str:
    return next(line for line in text.splitlines() if criterion in line)


def test_a_fail_criterion_shows_as_fail_in_every_format(report_data: ReportData) -> None:
    files = build_report_files(report_data, FORMATS)
    markdown = files["report.md"].decode()
    cells = [cell.strip() for cell in _criterion_row(markdown, "C4 performance").strip("|").split(" | ")]
    assert cells[1] == "FAIL"

    page = files["report.html"].decode()
    row = re.search(r"<tr><td>C4 performance within threshold</td>(.*?)</tr>", page).group(1)
    assert row.startswith('<td class="fail">FAIL</td>')
    assert '<p id="verdict" class="banner fail">Overall verdict: FAIL</p>' in page

    criteria = pd.read_csv(io.BytesIO(files["criteria.csv"]))
    assert criteria.set_index("id").loc["C4", "verdict"] == "FAIL"

    document = json.loads(files["report.json"])
    assert document["overall_verdict"] == "FAIL"
    assert {c["id"]: c["verdict"] for c in document["criteria"]}["C4"] == "FAIL"

    suite = ET.fromstring(files["junit.xml"]).find("testsuite")
    case = next(c for c in suite.iter("testcase") if c.get("name").startswith("C4 "))
    assert case.find("failure") is not None
    assert case.find("failure").get("type") == "FAIL"


def test_junit_has_one_testcase_per_criterion_with_right_counts(report_data: ReportData) -> None:
    root = ET.fromstring(build_junit(report_data))
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert [c.get("name").split()[0] for c in cases] == [f"C{i}" for i in range(1, 10)]
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped"), suite.get("errors")) == ("9", "1", "1", "0")
    assert sum(c.find("failure") is not None for c in cases) == 1
    skipped = [c for c in cases if c.find("skipped") is not None]
    assert [c.get("name").split()[0] for c in skipped] == ["C6"]
    assert skipped[0].find("skipped").get("message") == "anonymous memory slope 0.0012 B/B, r2 0.1 | too few sizes"
    failure = suite.find("testcase/failure")
    assert failure.text == "value 1.410 interval [1.320, 1.500] threshold 1.250"


def _harness_with_verdicts(tmp_path: Path, verdicts: dict[str, str], overall: str) -> Path:
    document = json.loads((DATA / "harness_result.json").read_text())
    document["verdict"] = overall
    for criterion in document["criteria"]:
        criterion["verdict"] = verdicts.get(criterion["id"], "PASS")
    path = tmp_path / "harness.json"
    path.write_text(json.dumps(document))
    return path


def test_all_pass_gives_pass_everywhere_and_no_junit_failures(tmp_path: Path) -> None:
    data = load_sources([_harness_with_verdicts(tmp_path, {}, "PASS")])
    files = build_report_files(data, FORMATS)
    assert files["report.md"].startswith(b"# farm-grids report: PASS")
    assert b'class="banner pass">Overall verdict: PASS' in files["report.html"]
    suite = ET.fromstring(files["junit.xml"]).find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("9", "0", "0")


def test_warn_only_is_inconclusive_with_skips(tmp_path: Path) -> None:
    data = load_sources([_harness_with_verdicts(tmp_path, {"C4": "WARN", "C6": "WARN"}, "INCONCLUSIVE")])
    assert build_markdown(data).startswith("# farm-grids report: INCONCLUSIVE")
    suite = ET.fromstring(build_junit(data)).find("testsuite")
    assert (suite.get("failures"), suite.get("skipped")) == ("0", "2")


def test_benchmarks_only_report_says_there_is_no_verdict(golden_sources: list[Path]) -> None:
    data = load_sources(golden_sources[1:])
    markdown = build_markdown(data)
    assert markdown.startswith("# farm-grids report: NONE")
    assert "No farm-harness result among the inputs" in markdown
    assert "## Criteria" not in markdown and "## Benchmarks (asv, pytest-benchmark)" in markdown
    suite = ET.fromstring(build_junit(data)).find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("0", "0")


def test_html_is_self_contained_with_every_table_and_plot(report_data: ReportData) -> None:
    plots = build_plots(report_data)
    page = build_html(report_data, plots)
    assert page.count("<table>") == 5  # criteria, ratios, memory, out-of-core, benchmarks
    assert page.count('src="data:image/png;base64,') == len(plots) == 3
    assert not re.search(r'(src|href)="(https?:)?//', page), "the page must not fetch anything"
    assert "max |memmap - ram| = 0" in page  # escaped, not interpreted as markup
    assert "<td class=\"warn\">WARN</td>" in page


def test_csv_round_trips_the_tidy_frames(report_data: ReportData) -> None:
    csvs = build_csvs(report_data)
    assert set(csvs) == {"measurements.csv", "criteria.csv", "ratio_verdicts.csv"}
    measurements = pd.read_csv(io.StringIO(csvs["measurements.csv"]))
    assert list(measurements.columns) == list(report_data.measurements.columns)
    assert len(measurements) == len(report_data.measurements)
    pd.testing.assert_series_equal(measurements["value"], report_data.measurements["value"])


def test_json_has_no_nan_and_keeps_every_row(report_data: ReportData) -> None:
    text = build_json(report_data)
    assert "NaN" not in text and "Infinity" not in text
    document = json.loads(text)
    assert document["schema"] == "farm-grids/report/v1"
    assert len(document["measurements"]) == len(report_data.measurements)
    assert document["summary"]["commit"] == "0123456789abcdef0123456789abcdef01234567"
    first_criterion = document["criteria"][0]
    assert first_criterion["value"] is None and first_criterion["verdict"] == "PASS"


def test_plots_are_pngs_and_history_needs_two_commits(report_data: ReportData, golden_sources: list[Path]) -> None:
    plots = build_plots(report_data)
    assert [plot.name for plot in plots] == ["plot_ratios", "plot_memory", "plot_history"]
    assert all(plot.png.startswith(PNG_SIGNATURE) and len(plot.png) > 10_000 for plot in plots)
    one_commit = load_sources([golden_sources[1] / "testbox"])
    one_commit = ReportData(
        measurements=one_commit.measurements[one_commit.measurements["commit"] == "1" * 40],
        criteria=one_commit.criteria, ratio_verdicts=one_commit.ratio_verdicts,
        summary=None, sources=one_commit.sources,
    )
    assert build_history_figure(one_commit) is None
    # without a harness result the ratio plot falls back to the benchmark medians
    assert [plot.name for plot in build_plots(one_commit)] == ["plot_ratios"]


def test_markdown_table_escapes_pipes_and_aligns_numbers() -> None:
    table = Table("t", ("name", "n"), (("a|b", "1"), ("line\nbreak", "22")), ("l", "r"))
    assert build_markdown_table(table) == (
        "| name       |   n |\n"
        "| ---------- | --: |\n"
        "| a\\|b       |   1 |\n"
        "| line break |  22 |"
    )


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.0123, "12.3 ms"), (0.004, "4.00 ms"), (1.5, "1.50 s"), (4.2e-05, "42.0 µs"), (5e-07, "500 ns")],
)
def test_format_seconds(seconds: float, text: str) -> None:
    assert format_seconds(seconds) == text


def test_format_bytes() -> None:
    assert [format_bytes(v) for v in (512, 65536, 120_000_000, 3 * 2**30)] == [
        "512 B", "64.0 KiB", "114.4 MiB", "3.0 GiB"]


def test_checks_not_applicable_to_the_backend_are_listed_with_their_reasons(tmp_path: Path) -> None:
    document = json.loads((DATA / "harness_result.json").read_text())
    document["backend"] = "zarr"
    document["not_applicable"] = {"C1": "no mapped file | per grid", "C4 cold rows": "chunks have their own cache"}
    path = tmp_path / "harness.json"
    path.write_text(json.dumps(document))
    markdown = build_markdown(load_sources([path]))
    assert "zarr/RAM threshold" in markdown.split("\n\n")[1]
    section = markdown.split("## Not applicable to the zarr backend\n\n")[1].split("\n\n")[0].splitlines()
    assert [row.split("|")[1].strip() for row in section[2:]] == ["C1", "C4 cold rows"]
    assert "no mapped file \\| per grid" in section[2]  # the reason is escaped, not a table break
    # A memmap run (no such keys, as every older result) shows no such section.
    assert "Not applicable" not in build_markdown(load_sources([DATA / "harness_result.json"]))
