"""Headless matplotlib plots: memmap/RAM ratios, memory vs grid size, asv ratio history."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from reports.frames import ReportData, backend_ratios

# Figure + FigureCanvasAgg directly (no pyplot): no global figure registry, no GUI backend
# lookup, so plotting is safe in CI, in threads and next to a user's own pyplot session.
VERDICT_COLOURS = {"PASS": "#1a7f37", "WARN": "#bf8700", "FAIL": "#cf222e"}
NEUTRAL_COLOUR = "#0969da"
SEVERITY = {"PASS": 0, "WARN": 1, "FAIL": 2}
# More rows than this would make a figure taller than a PNG can be (and cost ~9 ms a row to
# draw one by one); past it the plot shows the worst rows and says so.
MAX_RATIO_ROWS = 60


@dataclass(frozen=True)
class Plot:
    """One rendered plot: a file stem, a caption and the PNG bytes."""

    name: str
    caption: str
    png: bytes


def figure_png(figure: Figure) -> bytes:
    """PNG bytes of a figure; no Software/date metadata so the bytes depend only on the data."""
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()


def _ratio_points(data: ReportData) -> tuple[pd.DataFrame, bool]:
    """Harness ratios (with intervals), else the latest benchmark ratios (points only)."""
    verdicts = data.ratio_verdicts
    if not verdicts.empty:
        points = pd.DataFrame({
            "label": [f"{r.workload}\n{r.size} {r.cache}" for r in verdicts.itertuples()],
            "ratio": verdicts["ratio"], "low": verdicts["ci_low"], "high": verdicts["ci_high"],
            "verdict": verdicts["verdict"].fillna(""), "threshold": verdicts["threshold"],
        })
        return points, True
    ratios = backend_ratios(data.measurements)
    if ratios.empty:
        return pd.DataFrame(), False
    ratios = ratios.sort_values("timestamp", kind="stable")
    latest = ratios.groupby(["source", "workload", "size"], dropna=False).tail(1)
    points = pd.DataFrame({
        "label": [f"{r.workload.rsplit('.', 1)[-1]}\n{r.size} ({r.source})" for r in latest.itertuples()],
        "ratio": latest["value"], "low": np.nan, "high": np.nan, "verdict": "", "threshold": np.nan,
    })
    return points.reset_index(drop=True), False


def worst_rows(points: pd.DataFrame, limit: int = MAX_RATIO_ROWS) -> pd.DataFrame:
    """At most ``limit`` rows: all of them in table order, else the worst (FAIL, WARN, then highest ratio) first."""
    if len(points) <= limit:
        return points.reset_index(drop=True)
    severity = points["verdict"].map(SEVERITY).fillna(-1)
    order = pd.DataFrame({"severity": severity, "ratio": points["ratio"].fillna(-np.inf)})
    chosen = order.sort_values(["severity", "ratio"], ascending=False, kind="stable").index[:limit]
    return points.loc[chosen].reset_index(drop=True)


def ratio_plot_note(data: ReportData) -> str:
    """'' when every ratio row is drawn, else how many of how many the plot shows."""
    total = len(_ratio_points(data)[0])
    return "" if total <= MAX_RATIO_ROWS else f"{MAX_RATIO_ROWS} of {total} rows, worst first; the tables list all"


def build_ratio_figure(data: ReportData) -> Figure | None:
    """memmap/RAM ratio per workload with interval whiskers and the threshold line.

    Rows run down the page so any number of workloads stays legible, up to MAX_RATIO_ROWS
    (the worst ones past that); the ratio axis turns logarithmic when cold-cache rows (tens
    of x) sit beside warm ones (about 1x). One artist per verdict colour, however many rows.
    """
    all_points, judged = _ratio_points(data)
    if all_points.empty:
        return None
    points = worst_rows(all_points)
    figure = Figure(figsize=(8.0, 1.6 + 0.34 * len(points)), layout="constrained")
    axes = figure.add_subplot()
    y = np.arange(len(points))[::-1]  # first row at the top, as in the tables
    for verdict, group in points.groupby("verdict", sort=False):
        colour = VERDICT_COLOURS.get(str(verdict), NEUTRAL_COLOUR)
        rows = y[group.index.to_numpy()]
        whiskers = group["low"].notna() & group["high"].notna() & judged
        if whiskers.any():
            w = group[whiskers]
            error = np.vstack([w["ratio"] - w["low"], w["high"] - w["ratio"]])
            axes.errorbar(w["ratio"], rows[whiskers.to_numpy()], xerr=error, fmt="o", color=colour, capsize=4,
                          markersize=6)
        if (~whiskers).any():
            axes.plot(group["ratio"][~whiskers], rows[(~whiskers).to_numpy()], "o", color=colour, markersize=6)
    thresholds = sorted(set(points["threshold"].dropna()))
    if not thresholds and data.summary is not None and data.summary.threshold is not None:
        thresholds = [data.summary.threshold]
    for order, threshold in enumerate(thresholds):
        # The smallest threshold is the gate; larger ones belong to informational rows.
        gate = order == 0
        axes.axvline(threshold, color=VERDICT_COLOURS["FAIL" if gate else "WARN"],
                     linestyle="--" if gate else ":", linewidth=1.2,
                     label=f"{'threshold' if gate else 'info threshold'} {threshold:g}")
    axes.axvline(1.0, color="#6e7781", linewidth=0.8, label="parity (1.0)")
    values = pd.concat([points["ratio"], points["low"], points["high"]]).dropna()
    values = values[values > 0]
    if not values.empty and values.max() / values.min() > 3:
        axes.set_xscale("log")
    axes.set_yticks(y, [label.replace("\n", " ") for label in points["label"]], fontsize=8)
    axes.set_ylim(-0.6, len(points) - 0.4)
    axes.set_xlabel("memmap / RAM time")
    title = "memmap/RAM ratio per workload" + (" (95% interval)" if judged else " (benchmark medians)")
    note = ratio_plot_note(data)
    axes.set_title(title + (f"\n{note}" if note else ""))
    axes.legend(loc="lower right", fontsize=8)
    axes.grid(axis="x", alpha=0.3, which="both")
    return figure


MEMORY_LINES = (
    ("pss_anon_bytes", "Pss_Anon (anonymous, C6)", "-", "o"),
    ("rss_anon_bytes", "RssAnon (anonymous, C6)", "-", "s"),
    ("rss_file_bytes", "RssFile (file-backed, C9)", "--", "^"),
    ("needed_bytes", "needed by the work (C9)", (0, (1, 1)), "x"),
    ("file_blocks_bytes", "file blocks on disk", "--", "v"),
    ("file_bytes", "file size (mapped)", ":", None),
)
# Drawn for every layout measured; the others only for the row layout (the same in both).
PER_LAYOUT = frozenset({"rss_file_bytes", "needed_bytes"})


def _memory_series(data: ReportData) -> dict[str, pd.DataFrame]:
    """{layout: sizes x statistics} of the harness's memory probes (``memory`` is the row layout)."""
    frame = data.measurements[data.measurements["source"] == "harness"]
    found = {}
    for workload in sorted(set(frame["workload"].dropna())):
        if workload == "memory" or workload.startswith("memory/"):
            rows = frame[frame["workload"] == workload]
            wide = rows.pivot_table(index="size", columns="statistic", values="value", aggfunc="first").sort_index()
            if not wide.empty:
                found[workload.partition("/")[2] or "rows"] = wide
    return found


def build_memory_figure(data: ReportData) -> Figure | None:
    """Memory vs grid size on log-log axes: anonymous (C6, flat is good), RssFile and what the work
    needed per layout (C9: RssFile flat while the file grows), file size."""
    series = _memory_series(data)
    if not series:
        return None
    figure = Figure(figsize=(7.5, 4.6), layout="constrained")
    axes = figure.add_subplot()
    x_label = "grid side (cells)"
    for layout, wide in series.items():
        x = wide["grid_bytes"] if "grid_bytes" in wide else wide.index.to_series().astype(float)
        if "grid_bytes" in wide:
            x_label = "grid size (bytes)"
        for statistic, label, style, marker in MEMORY_LINES:
            if statistic not in PER_LAYOUT and layout != next(iter(series)):
                continue
            if statistic in wide and wide[statistic].notna().any():
                name = f"{label} [{layout}]" if statistic in PER_LAYOUT and len(series) > 1 else label
                axes.plot(x, wide[statistic], linestyle=style, marker=marker, label=name)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel(x_label)
    axes.set_ylabel("bytes")
    axes.set_title("Memory vs grid size (each size in a fresh process)")
    axes.legend(loc="best", fontsize=7)
    axes.grid(which="both", alpha=0.3)
    return figure


def build_history_figure(data: ReportData) -> Figure | None:
    """asv memmap/RAM ratio of each benchmark across commits; None with fewer than two commits."""
    ratios = backend_ratios(data.measurements)
    ratios = ratios[ratios["source"] == "asv"]
    if ratios["commit"].nunique() < 2:
        return None
    ratios = ratios.sort_values("timestamp", kind="stable")
    order = list(dict.fromkeys(ratios["commit"]))  # commits in date order
    figure = Figure(figsize=(max(8.0, 0.6 * len(order) + 5), 4.2), layout="constrained")
    axes = figure.add_subplot()
    for (workload, size), series in ratios.groupby(["workload", "size"], dropna=False, sort=True):
        positions = [order.index(commit) for commit in series["commit"]]
        label = workload.split(".", 1)[-1] + ("" if pd.isna(size) else f" [{size}]")
        axes.plot(positions, series["value"], marker="o", label=label)
    if data.summary is not None and data.summary.threshold is not None:
        axes.axhline(data.summary.threshold, color=VERDICT_COLOURS["FAIL"], linestyle="--",
                     linewidth=1.2, label=f"threshold {data.summary.threshold:g}")
    axes.axhline(1.0, color="#6e7781", linewidth=0.8)
    axes.set_xticks(range(len(order)), [commit[:8] for commit in order], rotation=45, fontsize=8)
    axes.set_xlabel("commit (oldest → newest)")
    axes.set_ylabel("memmap / RAM (median time)")
    axes.set_xlim(-0.5, len(order) - 0.5)
    axes.set_title("asv history of the memmap/RAM ratio")
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)  # outside: lines stay visible
    axes.grid(axis="y", alpha=0.3)
    return figure


def build_plots(data: ReportData) -> list[Plot]:
    """Every plot that the data supports, rendered to PNG bytes (pure: nothing is written)."""
    note = ratio_plot_note(data)
    builders = (
        ("plot_ratios", "memmap/RAM ratio per workload" + (f" ({note})" if note else ""), build_ratio_figure),
        ("plot_memory", "Memory vs grid size (log-log)", build_memory_figure),
        ("plot_history", "asv ratio history across commits", build_history_figure),
    )
    plots = []
    for name, caption, build in builders:
        figure = build(data)
        if figure is not None:
            plots.append(Plot(name, caption, figure_png(figure)))
    return plots
