"""`farm-harness bench-summary`: one bench-ci run (asv, validate, gate) as Markdown for a PR comment, HTML and JUnit."""

from __future__ import annotations

import argparse
import math
import sys
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from harness.results.asv_compare import INSTRUCTION_UNIT
from harness.results.bench_ci_schema import BENCH_CI_JSON_SCHEMA
from harness.commands.commandline import EXIT_PASS, EXIT_USAGE, one_line
from harness.errors import USER_ERRORS
from harness.results.jsonfiles import compile_schema, load_json
from reports.errors import ReportExistsError, ReportInputError
from reports.html import STYLE, build_html_table
from reports.markdown import build_markdown_table
from reports.tables import MISSING, Table, format_bytes, format_seconds
from reports.writer import publish_files

PROG = "farm-harness bench-summary"
HELP = "render a bench-ci run (bench-ci.json) as summary.md, summary.html and junit.xml"
_DOCUMENT = compile_schema(BENCH_CI_JSON_SCHEMA)  # the whole document: every key the summary reads
QUIET = ("unchanged", "no base", "not run")  # asv verdicts that are no change
ASV_HEADERS = ("benchmark", "params", "base", "head", "head/base", "99% CI (ratio)", "asv verdict",
               "validate memmap/RAM", "gate memmap/RAM")


def _number(value: Any, spec: str = ".3f") -> str:
    return MISSING if not isinstance(value, (int, float)) or not math.isfinite(value) else format(value, spec)


def format_measure(value: Any, unit: str) -> str:
    """A measured value in its asv unit: seconds and bytes scaled, others with three digits."""
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return MISSING
    if unit == "seconds":
        return format_seconds(value)
    if unit == "bytes":
        return format_bytes(value)
    return f"{value:.3g} {unit}".strip()


def _interval(low: Any, high: Any) -> str:
    return MISSING if _number(low) == MISSING or _number(high) == MISSING else f"[{low:.3f}, {high:.3f}]"


def harness_cell(gate: Mapping[str, Any] | None, workload: str | None, size: int | None) -> str:
    """A gate's memmap/RAM verdict for ``workload`` on head: same size if measured, else the size it has."""
    if not gate or not workload:
        return MISSING
    rows = [r for r in gate.get("ratios") or [] if r.get("workload", "").split("[")[0] == workload
            and r.get("cache", "warm") == "warm"]
    if not rows:
        return "not gated"
    row = next((r for r in rows if r.get("size") == size), rows[0])
    return (f"{row.get('verdict')} {_number(row.get('ratio'))} {_interval(row.get('ci_low'), row.get('ci_high'))}"
            f" @{row.get('size')}")


def _ratio_cell(row: Mapping[str, Any]) -> str:
    """head/base, and the confirming run's where the suspect was run again."""
    first = _number(row.get("ratio"), ".2f")
    if row.get("rerun_verdict") is None:
        return first
    return f"{first}, rerun {_number(row.get('rerun_ratio'), '.2f')}"


def asv_table(document: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], title: str, note: str = "") -> Table:
    gates = document.get("gates") or {}
    cells = tuple((
        r["benchmark"], r["params"], format_measure(r.get("base"), r["unit"]), format_measure(r.get("head"), r["unit"]),
        _ratio_cell(r), _interval(r.get("ci_low"), r.get("ci_high")), r["verdict"],
        harness_cell(gates.get("validate"), r.get("workload"), r.get("size")),
        harness_cell(gates.get("gate"), r.get("workload"), r.get("size")),
    ) for r in rows)
    return Table(title, ASV_HEADERS, cells, ("l", "l", "r", "r", "r", "r", "l", "l", "l"), note)


def gate_table(name: str, gate: Mapping[str, Any]) -> Table:
    rows = tuple((str(r.get("workload")), str(r.get("size")), str(r.get("cache", "warm")), _number(r.get("ratio")),
                  _interval(r.get("ci_low"), r.get("ci_high")), _number(r.get("threshold"), ".2f"),
                  str(r.get("verdict")) + ("" if r.get("cache", "warm") == "warm" else " (info)"))
                 for r in gate.get("ratios") or [])
    note = "; ".join(f"{c.get('id')} {c.get('verdict')}" for c in gate.get("criteria") or [])
    return Table(f"{name}: {gate.get('verdict')}", ("workload", "size", "cache", "memmap/RAM", "95% CI", "limit",
                                                    "verdict"), rows, ("l", "r", "l", "r", "r", "r", "l"),
                 f"criteria: {note}" if note else "")


def instruction_table(document: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> Table:
    """Every instruction-lane count of the run (unit "instructions"), changed or not."""
    cells = tuple((r["benchmark"], r["params"], _number(r.get("base"), ",.0f"), _number(r.get("head"), ",.0f"),
                   _number(r.get("ratio"), ".4f"), r["verdict"]) for r in rows)
    factor = document.get("instruction_factor")
    note = ("callgrind instructions per call, one fresh process per workload; a REGRESSION is head/base > "
            f"{_number(factor, '.2f')} (the counts' A/A spread is 0, so no test and no rerun)")
    return Table(f"Instruction counts ({len(rows)})", ("benchmark", "params", "base", "head", "head/base", "verdict"),
                 cells, ("l", "l", "r", "r", "r", "l"), note)


def history_table(steps: Sequence[Mapping[str, Any]]) -> Table:
    rows = []
    for record in steps:
        for jump in record.get("jumps") or []:
            rows.append((record["benchmark"], str(jump.get("before_commit") or "parent")[:10],
                         str(jump.get("after_commit"))[:10], _number(jump.get("before"), ".4g"),
                         _number(jump.get("after"), ".4g"), _number(jump.get("ratio"), ".2f")))
    return Table("Steps asv publish detected", ("benchmark", "from", "to", "before", "after", "ratio"),
                 tuple(rows), ("l", "l", "l", "r", "r", "r"))


def steps_table(document: Mapping[str, Any]) -> Table:
    rows = tuple((s["name"], str(s["exit_code"]), f"{s['seconds']:.1f}", " ".join(s["command"][-6:]))
                 for s in document["steps"])
    return Table("Steps of this run", ("step", "exit", "seconds", "command (tail)"), rows, ("l", "r", "r", "l"))


def summary_tables(document: Mapping[str, Any]) -> list[Table]:
    """The tables of the summary, in order (pure)."""
    tables: list[Table] = []
    rows = document["asv"]
    if document["mode"] == "change":
        changed = [r for r in rows if r["verdict"] not in QUIET]
        note = (f"{len(rows)} benchmark values compared at asv -f {document.get('factor')}: REGRESSION and BROKE "
                "gate the change; a REGRESSION must recur in a second asv continuous of just the suspects "
                "('not reproduced' otherwise); 'not significant' moved beyond the factor but failed asv's test "
                "(Mann-Whitney U, else the 99 % intervals). validate/gate: memmap/RAM on head.")
        tables.append(asv_table(document, changed, f"Changed benchmarks ({len(changed)} of {len(rows)})", note))
    elif rows:
        failed = [r for r in rows if r["verdict"] not in QUIET]
        ran = sum(r.get("head") is not None for r in rows)
        tables.append(asv_table(document, failed, f"asv --quick: {ran} values, {len(failed)} failed",
                                "one sample per benchmark: a smoke run, no comparison"))
    counts = [r for r in rows if r.get("unit") == INSTRUCTION_UNIT]
    if counts:
        tables.append(instruction_table(document, counts))
    if document.get("history_steps") is not None:
        tables.append(history_table(document["history_steps"]))
    for name, gate in (document.get("gates") or {}).items():
        tables.append(gate_table(name, gate))
    tables.append(steps_table(document))
    return tables


def headline(document: Mapping[str, Any]) -> str:
    commits = " → ".join(f"{side} `{document[side]['commit'][:10]}` ({document[side]['ref']})"
                         for side in ("base", "head") if isinstance(document.get(side), Mapping))
    what = commits or document.get("range", "")
    return f"bench-ci {document['mode']} on {document.get('machine')}, {document.get('created')}: {what}"


def build_summary_markdown(document: Mapping[str, Any]) -> str:
    parts = [f"## Benchmarks: {document['verdict']}", headline(document)]
    if document.get("reasons"):
        parts.append("\n".join(f"- {reason}" for reason in document["reasons"]))
    for table in summary_tables(document):
        parts += [f"### {table.title}", build_markdown_table(table) if table.rows else "_none_"]
        if table.note:
            parts.append(table.note)
    return "\n\n".join(parts) + "\n"


def build_summary_html(document: Mapping[str, Any]) -> str:
    css = {"PASS": "pass", "FAIL": "fail", "INCONCLUSIVE": "warn"}.get(document["verdict"], "none")
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>Benchmarks: {escape(document['verdict'])}</title><style>{STYLE}</style></head><body>",
             f'<h1>Benchmarks</h1><p id="verdict" class="banner {css}">{escape(document["verdict"])}</p>',
             f"<p>{escape(headline(document))}</p>"]
    parts += [f"<p>{escape(reason)}</p>" for reason in document.get("reasons") or []]
    for table in summary_tables(document):
        parts += [f"<h2>{escape(table.title)}</h2>", build_html_table(table) if table.rows else "<p>none</p>"]
        if table.note:
            parts.append(f'<p class="note">{escape(table.note)}</p>')
    return "\n".join(parts + ["</body></html>"]) + "\n"


def _suite(root: ET.Element, name: str, cases: list[tuple[str, str, str]]) -> None:
    """cases: (name, outcome 'pass'|'failure'|'skipped'|'error', message)."""
    suite = ET.SubElement(root, "testsuite", name=name, tests=str(len(cases)),
                          failures=str(sum(c[1] == "failure" for c in cases)),
                          errors=str(sum(c[1] == "error" for c in cases)),
                          skipped=str(sum(c[1] == "skipped" for c in cases)))
    for case_name, outcome, message in cases:
        case = ET.SubElement(suite, "testcase", classname=f"bench_ci.{name}", name=case_name)
        if outcome != "pass":
            ET.SubElement(case, outcome, message=message)


def build_summary_junit(document: Mapping[str, Any]) -> bytes:
    root = ET.Element("testsuites", name="bench-ci")
    outcome = {"REGRESSION": "failure", "BROKE": "failure", "not significant": "skipped",
               "changed, no interval": "skipped", "not reproduced": "skipped"}
    _suite(root, "asv", [(f"{r['benchmark']}({r['params']})", outcome.get(r["verdict"], "pass"),
                          f"{r['verdict']} head/base {_number(r.get('ratio'), '.2f')}") for r in document["asv"]])
    for name, gate in (document.get("gates") or {}).items():
        verdicts = {"PASS": "pass", "FAIL": "failure", "WARN": "skipped"}
        _suite(root, name, [(f"{r.get('workload')}@{r.get('size')} {r.get('cache', 'warm')}",
                             verdicts.get(str(r.get("verdict")), "error") if r.get("cache", "warm") == "warm"
                             else "pass", f"{r.get('verdict')} {_number(r.get('ratio'))}")
                            for r in gate.get("ratios") or []])
    _suite(root, "steps", [(s["name"], "pass" if s["exit_code"] in (0, 1, 2, 3) else "error",
                            f"exit {s['exit_code']}") for s in document["steps"]])
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def prepare_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="source", type=Path, required=True, metavar="PATH", help="a bench-ci.json")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="where the three files go")


def summary_files(document: Mapping[str, Any]) -> dict[str, bytes]:
    """{file name: content} of the summary (pure: nothing is written)."""
    return {"summary.md": build_summary_markdown(document).encode("utf-8"),
            "summary.html": build_summary_html(document).encode("utf-8"),
            "junit.xml": build_summary_junit(document)}


def run(args: argparse.Namespace) -> int:
    """Write summary.md, summary.html and junit.xml; 0 when written, 2 on bad input (one line on stderr)."""
    try:
        if args.out.exists() and not args.out.is_dir():
            raise ReportInputError(f"{args.out}: exists and is not a directory")
        document = load_json(args.source, _DOCUMENT, "bench-ci JSON", error=ReportInputError)
        # Staged beside --out and renamed in, as `report` writes: a symlink at a final name is
        # replaced, never followed, and no file is ever half-written.
        publish_files(summary_files(document), args.out, force=True)
    except FileNotFoundError as error:
        print(f"{PROG}: error: {error.filename or args.source}: no such file", file=sys.stderr)
        return EXIT_USAGE
    except (*USER_ERRORS, ReportExistsError) as error:
        print(f"{PROG}: error: {one_line(error)}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_PASS
