"""bench-summary: a bench-ci run as a PR-comment Markdown, an HTML page and JUnit (pure builders and the command)."""

from __future__ import annotations

import argparse
import json
import xml.etree.ElementTree as ET
from pathlib import Path

from reports.bench_summary import (
    build_summary_html,
    build_summary_junit,
    build_summary_markdown,
    prepare_parser,
    run,
)


def row(params: str, verdict: str, ratio: float | None, size: int = 512) -> dict:
    return {"benchmark": "bench_windows.SingleWindow.time_run", "params": params, "kind": "time", "unit": "seconds",
            "workload": "store_windows", "backend": "ram", "size": size, "base": 1e-4,
            "head": None if ratio is None else 1e-4 * ratio, "ratio": ratio, "ci_low": ratio and ratio * 0.9,
            "ci_high": ratio and ratio * 1.1, "significant": True, "verdict": verdict}


DOCUMENT = {
    "schema": "farm-harness/bench-ci/v1", "mode": "change", "verdict": "FAIL", "machine": "box",
    "created": "2026-12-01T12:00:00+00:00", "factor": 1.25,
    "base": {"ref": "main", "commit": "a" * 40}, "head": {"ref": "HEAD", "commit": "b" * 40},
    "reasons": ["asv: bench_windows.SingleWindow.time_run('ram', 512, 6) REGRESSION x1.52"],
    "asv": [row("'ram', 512, 6", "REGRESSION", 1.52), row("'memmap', 512, 6", "not significant", 1.3),
            row("'ram', 1024, 6", "unchanged", 1.01, size=1024)],
    "gates": {"validate": {"verdict": "PASS", "ratios": [{"workload": "store_windows", "size": 1024, "cache": "warm",
                                                          "ratio": 1.01, "ci_low": 0.98, "ci_high": 1.04,
                                                          "threshold": 1.25, "verdict": "PASS"}],
                           "criteria": [{"id": "C4", "verdict": "PASS"}]},
              "gate": {"verdict": "INCONCLUSIVE", "ratios": [], "criteria": []}},
    "steps": [{"name": "asv continuous", "command": ["asv", "continuous", "<b>"], "exit_code": 1, "seconds": 9.5}],
}


def test_markdown_lists_each_changed_benchmark_with_ratio_interval_and_both_verdicts() -> None:
    text = build_summary_markdown(DOCUMENT)
    assert text.startswith("## Benchmarks: FAIL")
    lines = [line for line in text.splitlines() if "SingleWindow" in line and line.startswith("|")]
    assert len(lines) == 2  # the unchanged row is not a change
    slowed = next(line for line in lines if "REGRESSION" in line)
    assert "1.52" in slowed and "[1.368, 1.672]" in slowed and "PASS 1.010 [0.980, 1.040] @1024" in slowed
    assert "152 µs" in slowed and "100 µs" in slowed
    assert "Changed benchmarks (2 of 3)" in text and "- asv: bench_windows" in text


def test_html_escapes_and_junit_fails_only_the_regression() -> None:
    page = build_summary_html(DOCUMENT)
    assert "&lt;b&gt;" in page and "<b>" not in page and 'class="banner fail"' in page
    root = ET.fromstring(build_summary_junit(DOCUMENT))
    asv = root.find("testsuite[@name='asv']")
    assert asv is not None and asv.get("failures") == "1" and asv.get("skipped") == "1" and asv.get("tests") == "3"


def test_the_command_writes_three_files_and_refuses_a_foreign_json(tmp_path: Path) -> None:
    source = tmp_path / "bench-ci.json"
    source.write_text(json.dumps(DOCUMENT))
    parser = argparse.ArgumentParser()
    prepare_parser(parser)
    assert run(parser.parse_args(["--from", str(source), "--out", str(tmp_path / "o")])) == 0
    assert {p.name for p in (tmp_path / "o").iterdir()} == {"summary.md", "summary.html", "junit.xml"}
    source.write_text(json.dumps({"schema": "something else"}))
    assert run(parser.parse_args(["--from", str(source), "--out", str(tmp_path / "o")])) == 2
