"""A single self-contained HTML report: the Markdown's tables plus the plots as data URIs."""

from __future__ import annotations

import base64
from html import escape

from reports.frames import ReportData
from reports.plots import Plot
from reports.tables import Table, headline, provenance, report_tables

VERDICT_CLASSES = {"PASS": "pass", "WARN": "warn", "FAIL": "fail", "INCONCLUSIVE": "warn", "NONE": "none"}

# Inline CSS only: the file must render the same when mailed, archived as a CI artefact or
# opened offline, so nothing may be fetched.
STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem; color: #1f2328; }
h1 { margin-bottom: 0.3rem; }
.banner { font-size: 1.3rem; padding: 0.6rem 1rem; border-radius: 6px; display: inline-block; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border: 1px solid #d0d7de; padding: 0.3rem 0.6rem; }
th { background: #f6f8fa; text-align: left; }
td.r { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.pass { background: #dafbe1; color: #1a7f37; font-weight: 600; }
.warn { background: #fff8c5; color: #9a6700; font-weight: 600; }
.fail { background: #ffebe9; color: #cf222e; font-weight: 600; }
.none { background: #f6f8fa; color: #57606a; font-weight: 600; }
.note, .provenance { color: #57606a; }
.plots { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0 0 1.5rem; }
figure img { width: 580px; max-width: 100%; border: 1px solid #d0d7de; }
"""


def _cell_html(text: str, align: str) -> str:
    classes = [VERDICT_CLASSES[text]] if text in VERDICT_CLASSES else []
    if align == "r":
        classes.append("r")
    attribute = f' class="{" ".join(classes)}"' if classes else ""
    return f"<td{attribute}>{escape(text)}</td>"


def build_html_table(table: Table) -> str:
    """One <table> with verdict cells coloured by class."""
    head = "".join(f"<th>{escape(header)}</th>" for header in table.headers)
    body = "\n".join(
        "<tr>" + "".join(_cell_html(cell, align) for cell, align in zip(row, table.align)) + "</tr>"
        for row in table.rows
    )
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def build_html(data: ReportData, plots: list[Plot]) -> str:
    """The whole HTML page as one string (pure: nothing is written)."""
    verdict, sentence = headline(data)
    css_class = VERDICT_CLASSES.get(verdict, "none")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8">',
        f"<title>farm-grids report: {escape(verdict)}</title>",
        f"<style>{STYLE}</style></head>",
        "<body>",
        f"<h1>farm-grids report: {escape(verdict)}</h1>",
        f'<p id="verdict" class="banner {css_class}">Overall verdict: {escape(verdict)}</p>',
        f"<p>{escape(sentence)}</p>",
        f'<p class="provenance">{escape(provenance(data))}</p>',
    ]
    for table in report_tables(data):
        parts.append(f"<h2>{escape(table.title)}</h2>")
        parts.append(build_html_table(table))
        if table.note:
            parts.append(f'<p class="note">{escape(table.note)}</p>')
    if plots:
        parts.append('<h2>Plots</h2>\n<div class="plots">')
    for plot in plots:
        uri = "data:image/png;base64," + base64.b64encode(plot.png).decode("ascii")
        parts.append(
            f'<figure id="{escape(plot.name)}"><img src="{uri}" alt="{escape(plot.caption)}">'
            f"<figcaption>{escape(plot.caption)}</figcaption></figure>"
        )
    if plots:
        parts.append("</div>")
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"
