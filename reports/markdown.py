"""Markdown report for a PR comment or CI step summary: verdict first, then the tables."""

from __future__ import annotations


from reports.frames import ReportData
from reports.tables import Table, headline, provenance, report_tables

# A tiny formatter instead of DataFrame.to_markdown: that needs `tabulate`, which is not a
# dependency, and the cells are already formatted strings anyway.


def _cell(text: str) -> str:
    """A cell that cannot break the table: pipes escaped, newlines flattened."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def build_markdown_table(table: Table) -> str:
    """A GitHub-flavoured pipe table with columns padded to equal width."""
    header = [_cell(h) for h in table.headers]
    body = [[_cell(c) for c in row] for row in table.rows]
    widths = [max([len(header[i]), 3] + [len(row[i]) for row in body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        padded = [c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(cells, widths, table.align)]
        return "| " + " | ".join(padded) + " |"

    rule = "| " + " | ".join("-" * (w - 1) + ":" if a == "r" else "-" * w for w, a in zip(widths, table.align)) + " |"
    return "\n".join([line(header), rule] + [line(row) for row in body])


def build_markdown(data: ReportData) -> str:
    """The whole Markdown report as one string (pure: nothing is written)."""
    verdict, sentence = headline(data)
    parts = [
        f"# farm-grids report: {verdict}",
        f"**Overall verdict: {verdict}** — {sentence}",
        provenance(data),
    ]
    for table in report_tables(data):
        parts.append(f"## {table.title}")
        parts.append(build_markdown_table(table))
        if table.note:
            parts.append(table.note)
    return "\n\n".join(parts) + "\n"
