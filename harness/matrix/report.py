"""The matrix report: pandas frames of the journal's rows (verdict per cell and machine type, cells that differ
between machine types first), a heatmap of memmap/RAM over two axes, and the standard report's formats."""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from harness.matrix.spec import AXES, MatrixSpec
from harness.results.document import build_result, write_result
from harness.verdicts import Criterion, Overall, Verdict, overall, worst

RESULT_NAME = "matrix-result.json"
HEATMAP_NAME = "matrix-heatmap.png"
CELL_COLUMNS = ("cell", "machine_type", *AXES, "ratio", "ci_low", "ci_high", "threshold", "verdict", "error",
                "blocks", "ram_median_s", "memmap_median_s", "hostname", "started", "ended", "engine_commit")


def cells_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per measured cell and machine type, with where it ran."""
    records = []
    for row in rows:
        machine = row.get("machine") or {}
        records.append({**{key: row.get(key) for key in CELL_COLUMNS},
                        "machine_type": machine.get("machine_type", "unknown"),
                        "hostname": machine.get("hostname")})
    frame = pd.DataFrame.from_records(records, columns=list(CELL_COLUMNS))
    for column in ("ratio", "ci_low", "ci_high", "threshold", "ram_median_s", "memmap_median_s"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return frame


def verdicts_by_machine(cells: pd.DataFrame) -> pd.DataFrame:
    """Cell x machine type -> verdict, with ``differs`` when machine types disagree; those cells first."""
    table = cells.pivot_table(index="cell", columns="machine_type", values="verdict", aggfunc="first")
    table.columns = [str(c) for c in table.columns]
    table["differs"] = table.nunique(axis=1, dropna=True) > 1
    table = table.reset_index().sort_values(["differs", "cell"], ascending=[False, True], kind="stable")
    return table.reset_index(drop=True)


def machine_summary(cells: pd.DataFrame) -> pd.DataFrame:
    """Per machine type: how many cells, how many of each verdict, and the overall verdict there."""
    records = []
    for kind, group in cells.groupby("machine_type", sort=True):
        verdicts = [Verdict(v) for v in group["verdict"]]
        counts = {v.value: int(sum(x is v for x in verdicts)) for v in Verdict}
        records.append({"machine_type": kind, "cells": len(group), **counts, "verdict": overall(verdicts).value,
                        "hosts": ", ".join(sorted(set(group["hostname"].dropna())))})
    return pd.DataFrame.from_records(records, columns=["machine_type", "cells", *(v.value for v in Verdict),
                                                        "verdict", "hosts"])


def _geometric_mean(values: pd.Series) -> float:
    positive = values[values > 0]
    return float(np.exp(np.log(positive).mean())) if len(positive) else math.nan


def heatmap_frames(cells: pd.DataFrame, axes: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Per machine type, memmap/RAM over two axes (geometric mean over the other axes)."""
    return {str(kind): group.pivot_table(index=axes[0], columns=axes[1], values="ratio", aggfunc=_geometric_mean)
            for kind, group in cells.groupby("machine_type", sort=True)}


def heatmap_png(frames: Mapping[str, pd.DataFrame], axes: Sequence[str], threshold: float) -> bytes:
    """One panel per machine type; green below 1, red from the threshold up, each cell labelled."""
    figure = Figure(figsize=(4.8 * max(1, len(frames)), 3.6), layout="constrained")
    FigureCanvasAgg(figure)  # Figure + Agg directly: no pyplot state, safe headless and in threads
    panels = figure.subplots(1, max(1, len(frames)), squeeze=False)[0]
    finite = [v for f in frames.values() for v in f.to_numpy().ravel() if np.isfinite(v)]
    top = max([threshold * 1.2, *finite])
    norm = TwoSlopeNorm(vmin=min([0.5, *finite]), vcenter=1.0, vmax=top)
    for panel, (kind, frame) in zip(panels, frames.items()):
        image = panel.imshow(frame.to_numpy(dtype=float), cmap="RdYlGn_r", norm=norm, aspect="auto")
        panel.set_xticks(range(frame.shape[1]), [str(c) for c in frame.columns])
        panel.set_yticks(range(frame.shape[0]), [str(i) for i in frame.index])
        panel.set_xlabel(axes[1])
        panel.set_ylabel(axes[0])
        panel.set_title(kind if len(kind) <= 48 else kind[:45] + "...", fontsize=9)
        for (y, x), value in np.ndenumerate(frame.to_numpy(dtype=float)):
            panel.text(x, y, "-" if not np.isfinite(value) else f"{value:.2f}", ha="center", va="center", fontsize=8)
        figure.colorbar(image, ax=panel, label=f"memmap/RAM (limit {threshold:g})")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()


def result_document(cells: pd.DataFrame, spec: MatrixSpec, duration_s: float, commit: str | None) -> dict[str, Any]:
    """A farm-harness result: one criterion per machine type, one ratio row per cell (differing cells first)."""
    order = verdicts_by_machine(cells)["cell"].tolist()
    ranked = cells.assign(rank=cells["cell"].map({c: i for i, c in enumerate(order)}))
    ranked = ranked.sort_values(["rank", "machine_type"], kind="stable")
    criteria = []
    for kind, group in ranked.groupby("machine_type", sort=True):
        verdicts = [Verdict(v) for v in group["verdict"]]
        failed = group.loc[group["verdict"] != "PASS", "cell"].tolist()
        criteria.append(Criterion(id=str(kind), name=f"{len(group)} matrix cells", verdict=worst(verdicts),
                                  threshold=spec.threshold, unit="memmap/RAM",
                                  details=f"not PASS: {'; '.join(failed)}" if failed else "every cell PASS"))

    def number(value: Any) -> float | None:
        return None if pd.isna(value) else float(value)

    ratios = [{"workload": f"{r.workload}/{r.layout}/{r.backend}/{r.agents} agents @ {r.machine_type}", "size": int(r.size), "cache": "warm",
               "ratio": number(r.ratio), "ci_low": number(r.ci_low), "ci_high": number(r.ci_high),
               "threshold": spec.threshold, "verdict": r.verdict, "details": r.error,
               "blocks": None if pd.isna(r.blocks) else int(r.blocks), "ram_median_s": number(r.ram_median_s),
               "memmap_median_s": number(r.memmap_median_s)} for r in ranked.itertuples()]
    verdict = overall(Verdict(v) for v in cells["verdict"]) if len(cells) else Overall.INCONCLUSIVE
    return build_result(verdict=verdict, mode="full", threshold=spec.threshold, criteria=criteria,
                        duration_s=duration_s, ratios=ratios, commit=commit)


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub pipe table of ``frame`` (no extra dependency)."""
    def cell(value: Any) -> str:
        text = "" if value is None or (isinstance(value, float) and not math.isfinite(value)) else str(value)
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def write_matrix_report(rows: Sequence[Mapping[str, Any]], spec: MatrixSpec, out_dir: Path, *, duration_s: float,
                        commit: str | None) -> Overall:
    """Write the matrix tables, the heatmap and the result JSON (OUT/RESULT_NAME); the overall verdict.

    The command then renders the standard report of that JSON (harness.commands.matrix).
    """
    cells = cells_frame(rows)
    by_machine = verdicts_by_machine(cells)
    summary = machine_summary(cells)
    out_dir.mkdir(parents=True, exist_ok=True)
    cells.to_csv(out_dir / "matrix-cells.csv", index=False)
    by_machine.to_csv(out_dir / "matrix-by-machine.csv", index=False)
    (out_dir / HEATMAP_NAME).write_bytes(heatmap_png(heatmap_frames(cells, spec.heatmap), spec.heatmap, spec.threshold))
    shown = cells[["cell", "machine_type", "ratio", "ci_low", "ci_high", "verdict"]].round(3)
    (out_dir / "matrix.md").write_text(
        f"# Matrix: {len(cells)} cells\n\n## Per machine type\n\n{markdown_table(summary)}\n\n"
        f"## Verdict per cell and machine type (cells that differ first)\n\n{markdown_table(by_machine)}\n\n"
        f"## memmap/RAM per cell\n\n{markdown_table(shown)}\n\n![heatmap]({HEATMAP_NAME})\n", encoding="utf-8")
    document = result_document(cells, spec, duration_s, commit)
    json_path = out_dir / RESULT_NAME
    write_result(document, json_path)
    return Overall(document["verdict"])

