"""Display tables (headers + formatted cells) built from ReportData; shared by Markdown and HTML."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import Any


from reports.frames import ReportData, backend_ratios, is_missing

MISSING = "—"
MEMORY_COLUMNS = (
    ("grid_bytes", "Grid"),
    ("pss_anon_bytes", "Pss_Anon"),
    ("rss_anon_bytes", "RssAnon"),
    ("rss_file_bytes", "RssFile"),
    ("file_bytes", "File size"),
    ("file_blocks_bytes", "File blocks"),
    ("pages_touched", "File pages resident"),
    ("resident_file_bytes", "Resident (mincore)"),
    ("needed_bytes", "Needed"),
)


@dataclass(frozen=True)
class Table:
    """A titled table of already formatted cells; `align` is 'l' or 'r' per column."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    align: tuple[str, ...]
    note: str = ""


def _three_digits(value: float) -> str:
    """Three significant digits, trailing zeros kept (4.00, 12.3, 100)."""
    return f"{value:#.3g}".rstrip(".")


def format_seconds(value: Any) -> str:
    """12.3 ms, 45.0 µs ... with three significant digits."""
    if is_missing(value):
        return MISSING
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if abs(value) >= scale:
            return f"{_three_digits(value / scale)} {unit}"
    return f"{_three_digits(value / 1e-9)} ns"


def format_bytes(value: Any) -> str:
    """Binary units with one decimal: 114.4 MiB."""
    if is_missing(value):
        return MISSING
    for scale, unit in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if abs(value) >= scale:
            return f"{value / scale:.1f} {unit}"
    return f"{value:.0f} B" if float(value).is_integer() else f"{value:.4g} B"


def format_value(value: Any, unit: str | None) -> str:
    """A number in the way its unit is read: ratios to 3 decimals, bytes and seconds scaled."""
    if is_missing(value):
        return MISSING
    unit = "" if is_missing(unit) else str(unit)
    if unit == "ratio":
        return f"{value:.3f}"
    if unit == "bytes" and abs(value) >= 1024:
        return format_bytes(value)
    if unit == "s":
        return format_seconds(value)
    text = f"{value:.4g}"
    return f"{text} {unit}" if unit and unit not in ("bool", "ratio") else text


def format_interval(low: Any, high: Any, unit: str | None) -> str:
    """[low, high] in the value's unit, or a dash when the measurement has no interval."""
    if is_missing(low) or is_missing(high):
        return MISSING
    return f"[{format_value(low, unit)}, {format_value(high, unit)}]"


def _size(value: Any) -> str:
    return MISSING if is_missing(value) else str(int(value))


def headline(data: ReportData) -> tuple[str, str]:
    """(overall verdict word, one sentence of context) for the top of every human format."""
    summary = data.summary
    if summary is None:
        return "NONE", "No farm-harness result among the inputs; benchmark tables only."
    counts = data.criteria["verdict"].value_counts()
    tally = ", ".join(f"{int(counts.get(v, 0))} {v}" for v in ("PASS", "WARN", "FAIL"))
    threshold = MISSING if summary.threshold is None else f"{summary.threshold:g}"
    return summary.verdict, (
        f"{tally} of {len(data.criteria)} criteria; mode {summary.mode or MISSING}; "
        f"{summary.backend}/RAM threshold {threshold}."
    )


def provenance(data: ReportData) -> str:
    """Commit, machine, time and inputs in one line (file names only, so reports are stable)."""
    parts = []
    summary = data.summary
    if summary is not None:
        commit = f"commit {summary.commit[:8]}" if summary.commit else "commit unknown"
        duration = f" ({summary.duration_s:g} s)" if summary.duration_s is not None else ""
        parts.append(f"{commit} on {summary.machine or 'unknown machine'}, {summary.created or MISSING}{duration}")
    parts.append("inputs: " + ", ".join(PurePath(source).name for source in data.sources))
    return "; ".join(parts) + "."


def not_applicable_table(data: ReportData) -> Table:
    """The checks a run skipped because they do not apply to its backend, each with the reason."""
    rows = () if data.summary is None else tuple((check, reason) for check, reason in data.summary.not_applicable)
    backend = data.summary.backend if data.summary is not None else "memmap"
    return Table(f"Not applicable to the {backend} backend", ("Check", "Reason"), rows, ("l", "l"))


def criteria_table(data: ReportData) -> Table:
    """Criterion, verdict, value, interval, threshold, details: one row per harness criterion."""
    rows = tuple(
        (
            f"{row.id} {row.name}",
            str(row.verdict),
            format_value(row.value, row.unit),
            format_interval(row.ci_low, row.ci_high, row.unit),
            format_value(row.threshold, row.unit),
            "" if is_missing(row.details) else str(row.details),
        )
        for row in data.criteria.itertuples()
    )
    return Table("Criteria", ("Criterion", "Verdict", "Value", "Interval", "Threshold", "Details"),
                 rows, ("l", "l", "r", "r", "r", "l"))


def ratio_table(data: ReportData) -> Table:
    """The harness's paired memmap/RAM ratios with their 95 % intervals and verdicts."""
    medians = data.measurements[
        (data.measurements["source"] == "harness") & (data.measurements["statistic"] == "median")
    ]
    lookup = {(r.workload, r.size, r.cache, r.backend): r.value for r in medians.itertuples()}
    rows = tuple(
        (
            str(row.workload), _size(row.size), "" if is_missing(row.cache) else str(row.cache),
            format_seconds(lookup.get((row.workload, row.size, row.cache, "ram"))),
            format_seconds(lookup.get((row.workload, row.size, row.cache, "memmap"))),
            format_value(row.ratio, "ratio"), format_interval(row.ci_low, row.ci_high, "ratio"),
            format_value(row.threshold, "ratio"), str(row.verdict),
        )
        for row in data.ratio_verdicts.itertuples()
    )
    return Table("memmap/RAM ratios", ("Workload", "Size", "Cache", "RAM median", "memmap median",
                                       "Ratio", "95% interval", "Threshold", "Verdict"),
                 rows, ("l", "r", "l", "r", "r", "r", "r", "r", "l"))


def _layout_of(workload: str) -> str:
    return workload.partition("/")[2] or "rows"


def memory_table(data: ReportData) -> Table:
    """Memory per layout and grid size (each measured in a fresh process), plus the anonymous-memory fit."""
    harness = data.measurements[data.measurements["source"] == "harness"]
    memory = harness[(harness["workload"] == "memory") | harness["workload"].str.startswith("memory/").fillna(False)]
    wide = memory.pivot_table(index=["workload", "size"], columns="statistic", values="value", aggfunc="first")
    present = [(statistic, title) for statistic, title in MEMORY_COLUMNS if statistic in wide.columns]
    rows = []
    for (workload, size), values in wide.sort_index().iterrows():
        cells = [_layout_of(str(workload)), _size(size)]
        for statistic, _ in present:
            value = values.get(statistic)
            cells.append(format_value(value, "bytes") if statistic.endswith("_bytes") else format_value(value, ""))
        rows.append(tuple(cells))
    fit = {row.statistic: row.value for row in harness[harness["workload"] == "memory_fit"].itertuples()}
    note = ""
    if fit:
        note = (f"Anonymous memory vs grid bytes: slope {format_value(fit.get('slope'), '')} B/B, "
                f"intercept {format_bytes(fit.get('intercept_bytes'))}, r² {format_value(fit.get('r2'), '')}.")
    if "needed_bytes" in wide.columns:
        note += (" Resident (mincore): page-cache bytes under the grid files' mappings; Needed: the pages"
                 " the probe's windows and writes cover in that layout (C9 holds resident <= 2x needed).")
    return Table("Memory", ("Layout", "Size") + tuple(title for _, title in present), tuple(rows),
                 ("l",) + ("r",) * (1 + len(present)), note.strip())


def _stat(frame: object, workload: str, size: object, statistic: str) -> object:
    picked = frame[(frame["workload"] == workload) & (frame["size"] == size) & (frame["statistic"] == statistic)]
    return None if picked.empty else picked.iloc[0]


def outofcore_table(data: ReportData) -> Table:
    """C9's cold gathers (us/window, bytes read over the layout's minimum) and frontier ticks (cold/warm)."""
    harness = data.measurements[data.measurements["source"] == "harness"]
    kinds = harness["workload"].fillna("").map(lambda workload: str(workload).partition("/")[0])
    picked = harness[kinds.isin(["cold_gather", "frontier"]).to_numpy(dtype=bool)]
    rows = []
    for workload, size in dict.fromkeys(zip(picked["workload"], picked["size"])):
        kind, _, layout = str(workload).partition("/")

        def value(statistic: str, spec: str) -> str:
            row = _stat(picked, workload, size, statistic)
            if row is None or is_missing(row.value):
                return MISSING
            return format_bytes(row.value) if spec == "bytes" else spec.format(row.value)

        us = "{:.1f} µs/window"
        if kind == "cold_gather":
            rows.append(("cold gather", layout, _size(size), value("us_per_window", us), MISSING,
                         value("read_ratio", "{:.2f}x"), value("read_bytes", "bytes"), value("needed_bytes", "bytes"),
                         value("warm_us_per_window", us), value("floor_us_per_window", us)))
        else:
            row = _stat(picked, workload, size, "ratio")
            interval = MISSING if row is None or is_missing(row.ci_low) else f"[{row.ci_low:.2f}, {row.ci_high:.2f}]"
            rows.append(("frontier tick", layout, _size(size), value("ratio", "{:.2f}x warm"), interval,
                         MISSING, MISSING, MISSING, MISSING, MISSING))
    return Table("Out-of-core (C9)", ("Measure", "Layout", "Size", "Cold", "95% interval", "Read / minimum",
                                      "Read", "Minimum", "Warm", "Disk floor"), tuple(rows),
                 ("l", "l", "r", "r", "r", "r", "r", "r", "r", "r"),
                 "Cold gather: 10,000 windows after the grid file was evicted, read / minimum = bytes read from "
                 "disk (ru_inblock) over the pages the windows cover in that layout; disk floor: the same pages "
                 "read with O_DIRECT, 32 in flight. Frontier tick: agents stepping into unread cells, over the "
                 "same tick warm." if rows else "")


def benchmark_ratio_table(data: ReportData) -> Table:
    """memmap/RAM of the medians asv and pytest-benchmark recorded, latest commit per source."""
    ratios = backend_ratios(data.measurements)
    note = ""
    if not ratios.empty:
        ratios = ratios.sort_values("timestamp", kind="stable").reset_index(drop=True)
        commits = ratios["commit"].fillna("")
        latest = commits.groupby([ratios["source"], ratios["machine"].fillna("")]).transform("last")
        earlier = commits[commits != latest].nunique()
        ratios = ratios[commits == latest]
        if earlier:
            note = (f"Latest commit per source only; {earlier} earlier commit(s) left out "
                    "(the HTML report's asv history plot shows them).")
    ratios = ratios.sort_values(["source", "workload", "size"], kind="stable")
    rows = tuple(
        (
            str(row.source), str(row.workload), _size(row.size),
            MISSING if is_missing(row.commit) else str(row.commit)[:8],
            format_seconds(row.ram), format_seconds(row.memmap), format_value(row.value, "ratio"),
        )
        for row in ratios.itertuples()
    )
    return Table("Benchmarks (asv, pytest-benchmark)",
                 ("Source", "Benchmark", "Size", "Commit", "RAM median", "memmap median", "memmap/RAM"),
                 rows, ("l", "l", "r", "l", "r", "r", "r"), note)


def report_tables(data: ReportData) -> list[Table]:
    """Every table a human format shows, in order; empty tables are left out."""
    tables = [criteria_table(data), not_applicable_table(data), ratio_table(data), memory_table(data), outofcore_table(data),
              benchmark_ratio_table(data)]
    return [table for table in tables if table.rows]
