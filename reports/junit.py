"""JUnit XML: one test case per harness criterion (FAIL -> failure, WARN -> skipped)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pandas as pd

from reports.frames import ReportData
from reports.tables import format_interval, format_value

SUITE_NAME = "farm-harness"
CASE_CLASS = "farm_harness.criteria"


def _measured(row: Any) -> str:
    """'value 1.410 interval [1.320, 1.500] threshold 1.250' for the failure body."""
    return (f"value {format_value(row.value, row.unit)} "
            f"interval {format_interval(row.ci_low, row.ci_high, row.unit)} "
            f"threshold {format_value(row.threshold, row.unit)}")


def build_junit_tree(data: ReportData) -> ET.Element:
    """The <testsuites> element; CI systems show each criterion as its own test."""
    criteria = data.criteria
    verdicts = criteria["verdict"].fillna("").tolist()
    duration = data.summary.duration_s if data.summary and data.summary.duration_s is not None else 0.0
    root = ET.Element("testsuites", name=SUITE_NAME)
    suite = ET.SubElement(
        root, "testsuite",
        name=SUITE_NAME,
        tests=str(len(criteria)),
        failures=str(verdicts.count("FAIL")),
        errors=str(sum(v not in ("PASS", "WARN", "FAIL") for v in verdicts)),
        skipped=str(verdicts.count("WARN")),
        time=f"{duration:.3f}",
    )
    if data.summary is not None and data.summary.created:
        suite.set("timestamp", data.summary.created)
    if data.summary is not None and data.summary.machine:
        suite.set("hostname", data.summary.machine)
    for row, verdict in zip(criteria.itertuples(), verdicts):
        case = ET.SubElement(suite, "testcase", classname=CASE_CLASS, name=f"{row.id} {row.name}", time="0")
        details = "" if pd.isna(row.details) else str(row.details)
        reason = details or f"{row.id} {verdict}"
        if verdict == "FAIL":
            failure = ET.SubElement(case, "failure", message=reason, type="FAIL")
            failure.text = _measured(row)
        elif verdict == "WARN":
            # "Skipped" is the closest JUnit has to "not proven either way"; the reason says why.
            ET.SubElement(case, "skipped", message=reason)
        elif verdict != "PASS":
            error = ET.SubElement(case, "error", message=f"unknown verdict {verdict!r}", type="verdict")
            error.text = reason
    return root


def build_junit(data: ReportData) -> bytes:
    """The JUnit XML document as UTF-8 bytes with an XML declaration."""
    root = build_junit_tree(data)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
